// The recogniser: Pyodide running digitnet's NumPy inference code, in a module Web Worker.
// Packages (numpy and the digitnet wheel) come from this site's pyodide-lock.json, which
// carries their sha256: the browser refuses a file that does not match.

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

async function handle(message) {
  // the first model is fetched while Pyodide is still starting, not after
  const text = message.type === "model" ? (message.text ?? fetchModel(message.url)) : null;
  text?.catch?.(() => {}); // a failed fetch is reported below, where it is awaited
  const app = await webapp;
  if (message.type === "model") {
    const info = toJs(app.load(await text, message.name));
    post({ type: "ready", info, python: pythonStart });
  } else if (message.type === "predict") {
    // one digit, or (number mode) the strokes grouped into digits
    const t0 = performance.now();
    const result = toJs(
      message.number
        ? app.predict_number(message.points, message.lengths, message.size)
        : app.predict_strokes(message.points, message.lengths, message.size, Boolean(message.inside)),
    );
    const ms = performance.now() - t0;
    post({ type: "result", version: message.version, strokes: message.strokes, ms, ...result });
  } else if (message.type === "picture") {
    const t0 = performance.now();
    await loadPillow();
    const result = toJs(app.predict_picture(message.bytes));
    post({ type: "picture", id: message.id, ms: performance.now() - t0, ...result });
  } else if (message.type === "memory") {
    // the memory of kept drawings: "remember" adds, "replace" holds exactly these, "forget" takes out (by id)
    const t0 = performance.now();
    const result =
      message.action === "forget"
        ? app.forget(message.ids)
        : (message.action === "replace" ? app.remember_only : app.remember)(message.text, message.ids);
    post({ type: "memory", id: message.id, ms: performance.now() - t0, ...toJs(result) });
  } else if (message.type === "feedforward") {
    post({ type: "outputs", id: message.id, values: toJs(app.feedforward(message.images)) });
  } else if (message.type === "read-file") {
    post({ type: "readings", id: message.id, values: toJs(app.read_file(message.text)) });
  } else if (message.type === "inside-units") {
    const units = app.inside_units(); // None (null here) when the first layer's units are not images
    post({ type: "inside-units", units: units ? toJs(units) : null });
  }
}

self.addEventListener("message", ({ data }) => {
  handle(data).catch((error) => {
    post({ type: "error", context: data.type, id: data.id, message: reason(error), unreachable: error.unreachable });
  });
});
