// The recogniser: Pyodide running digitnet's NumPy inference code, in a module Web Worker.
// Packages (numpy and the digitnet wheel) come from this site's pyodide-lock.json, which
// carries their sha256: the browser refuses a file that does not match. One answer per request
// (web/messenger.js); Python's start is news.

import { answer } from "./messenger.js";
import { fetchModel, loadPackage, pythonStart, reason, startPython, toJs } from "./python.js";

const post = (message) => self.postMessage(message);

const webapp = startPython(post, "digitnet.webapp");

// Pillow (about 1 MB) is fetched only when the first picture is opened.
let pillow = null;
function loadPillow() {
  if (!pillow) {
    post({ type: "status", text: "Loading the picture reader (Pillow)…" });
    pillow = loadPackage("pillow", "the picture reader (Pillow)").catch((error) => {
      pillow = null;
      throw error;
    });
  }
  return pillow;
}

const timed = (work) => {
  const t0 = performance.now();
  const result = work();
  return { ms: performance.now() - t0, ...result };
};

answer(
  self,
  {
    async model({ url, name, text }) {
      // the first model is fetched while Pyodide is still starting, not after
      const file = text ?? fetchModel(url);
      file.catch?.(() => {}); // a failed fetch is reported where it is awaited
      const app = await webapp;
      return { info: toJs(app.load(await file, name)), python: pythonStart };
    },
    // one digit, or (number mode) the strokes grouped into digits
    async predict({ points, lengths, size, inside, number, version, strokes }) {
      const app = await webapp;
      const read = () =>
        toJs(number ? app.predict_number(points, lengths, size) : app.predict_strokes(points, lengths, size, Boolean(inside)));
      return { version, strokes, ...timed(read) };
    },
    async picture({ bytes }) {
      const app = await webapp;
      await loadPillow();
      return timed(() => toJs(app.predict_picture(bytes)));
    },
    // the memory of kept drawings: "remember" adds, "replace" holds exactly these, "forget" takes out (by id)
    async memory({ change, text, ids }) {
      const app = await webapp;
      const update = { forget: () => app.forget(ids), replace: () => app.remember_only(text, ids) }[change];
      return timed(() => toJs(update ? update() : app.remember(text, ids)));
    },
    async feedforward({ images }) {
      return toJs((await webapp).feedforward(images));
    },
    async "read-file"({ text }) {
      return toJs((await webapp).read_file(text));
    },
    async "inside-units"() {
      const units = (await webapp).inside_units(); // None (null here) when the first layer's units are not images
      return units ? toJs(units) : null;
    },
  },
  reason,
);
