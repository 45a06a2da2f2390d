// Starting Pyodide with digitnet in a Web Worker, shared by the recogniser (worker.js) and the
// adapting worker (adapt-worker.js). Packages (numpy and the digitnet wheel) come from this site's
// pyodide-lock.json, which carries their sha256: the browser refuses a file that does not match.

import { loadPyodide } from "./pyodide/pyodide.mjs";

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

export async function startPython(post, module) {
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
  return pyodide.pyimport(module);
}

let runtime = null;

// A package of the site's lock loaded on demand (Pillow for pictures); loadPackage resolves even
// when the browser refused the file, so check that it really loaded.
export async function loadPackage(name, what) {
  await runtime.loadPackage([name], { errorCallback: () => {} });
  if (!Object.keys(runtime.loadedPackages).some((loaded) => loaded.toLowerCase() === name)) {
    throw new Error(`${what} could not be loaded`);
  }
}

export function toJs(proxy) {
  try {
    return proxy.toJs({ dict_converter: Object.fromEntries });
  } finally {
    proxy.destroy();
  }
}

export function reason(error) {
  // a Python exception's message ends with its last line: "ModuleName.SomeError: what went wrong"
  const lines = String(error && error.message ? error.message : error).trim().split("\n");
  return lines[lines.length - 1].replace(/^[\w.]*(Error|Exception): /, "");
}

// The site ships models gzipped (float16 tensors): inflate them with the browser's own decoder.
export async function fetchModel(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`model file ${url}: HTTP ${response.status} ${response.statusText}`);
  if (!url.endsWith(".gz")) return response.text();
  try {
    return await new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).text();
  } catch (error) {
    throw new Error(`model file ${url} is not a valid gzip file (${error.message})`);
  }
}
