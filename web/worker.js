// The recogniser: Pyodide running digitnet's NumPy inference code, in a module Web Worker.
// Packages (numpy and the digitnet wheel) come from this site's pyodide-lock.json, which
// carries their sha256: the browser refuses a file that does not match.

import { loadPyodide } from "./pyodide/pyodide.mjs";

const started = performance.now();
const post = (message) => self.postMessage(message);

// Pyodide waits forever when a file it fetches (the WebAssembly module, the standard
// library) is missing: fail fast instead, naming the file, while the runtime loads.
let loadFailure = null;
const loadFailed = new Promise((_, reject) => {
  loadFailure = reject;
});
const fetchFromSite = self.fetch.bind(self);
self.fetch = async (resource, options) => {
  const url = String(resource instanceof Request ? resource.url : resource);
  const name = url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, "");
  let response;
  try {
    response = await fetchFromSite(resource, options);
  } catch (error) {
    const why = url.endsWith(".whl") ? "; a package whose sha256 differs from pyodide-lock.json is refused" : "";
    loadFailure?.(new Error(`${name} could not be fetched (${error.message}${why})`));
    throw error;
  }
  if (!response.ok) loadFailure?.(new Error(`${name}: HTTP ${response.status} ${response.statusText}`));
  return response;
};

async function start() {
  post({ type: "status", text: "Loading the Python runtime (Pyodide)…" });
  const indexURL = new URL("./pyodide/", import.meta.url).href;
  const pyodide = await Promise.race([loadPyodide({ indexURL }), loadFailed]);
  post({ type: "status", text: "Loading NumPy and digitnet…" });
  const errors = [];
  const packages = pyodide.loadPackage(["digitnet"], {
    messageCallback: (text) => post({ type: "status", text }),
    errorCallback: (text) => errors.push(text),
  });
  await Promise.race([packages, loadFailed]);
  // loadPackage resolves even when the browser blocked a package: check what really loaded
  const missing = ["numpy", "digitnet"].filter((name) => !(name in pyodide.loadedPackages));
  if (missing.length) {
    throw new Error(`could not load ${missing.join(" and ")}: ${errors.join("; ") || "the download was refused"}`);
  }
  loadFailure = null; // from here on, failed fetches (a model file) are reported where they happen
  runtime = pyodide;
  return pyodide.pyimport("digitnet.webapp");
}

// Pillow (about 1 MB) is fetched only when the first picture is opened.
let runtime = null;
let pillow = null;
function loadPillow() {
  pillow ??= (async () => {
    post({ type: "status", text: "Loading the picture reader (Pillow)…" });
    await runtime.loadPackage(["pillow"], { errorCallback: () => {} });
    if (!("Pillow" in runtime.loadedPackages || "pillow" in runtime.loadedPackages)) {
      pillow = null;
      throw new Error("the picture reader (Pillow) could not be loaded");
    }
  })();
  return pillow;
}

const webapp = start();

function toJs(proxy) {
  try {
    return proxy.toJs({ dict_converter: Object.fromEntries });
  } finally {
    proxy.destroy();
  }
}

function reason(error) {
  // a Python exception's message ends with its last line: "ModuleName.SomeError: what went wrong"
  const lines = String(error && error.message ? error.message : error).trim().split("\n");
  return lines[lines.length - 1].replace(/^[\w.]*(Error|Exception): /, "");
}

async function handle(message) {
  const app = await webapp;
  if (message.type === "model") {
    const response = await fetch(message.url);
    if (!response.ok) throw new Error(`model file ${message.url}: HTTP ${response.status} ${response.statusText}`);
    const info = toJs(app.load(await response.text(), message.name));
    post({ type: "ready", info, seconds: (performance.now() - started) / 1000 });
  } else if (message.type === "predict") {
    // one digit, or (number mode) the strokes grouped into digits
    const t0 = performance.now();
    const read = message.number ? "predict_number" : "predict_strokes";
    const result = toJs(app[read](message.points, message.lengths, message.size));
    const ms = performance.now() - t0;
    post({ type: "result", version: message.version, strokes: message.strokes, ms, ...result });
  } else if (message.type === "picture") {
    const t0 = performance.now();
    await loadPillow();
    const result = toJs(app.predict_picture(message.bytes));
    post({ type: "picture", id: message.id, ms: performance.now() - t0, ...result });
  } else if (message.type === "feedforward") {
    post({ type: "outputs", id: message.id, values: toJs(app.feedforward(message.images)) });
  }
}

self.addEventListener("message", ({ data }) => {
  handle(data).catch((error) => post({ type: "error", context: data.type, id: data.id, message: reason(error) }));
});
