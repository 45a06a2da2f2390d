// Starting Pyodide with digitnet in a Web Worker, shared by the recogniser (worker.js) and the
// adapting worker (adapt-worker.js). Packages (numpy and the digitnet wheel) come from this site's
// pyodide-lock.json, which carries their sha256: the browser refuses a file that does not match.

import { loadPyodide, version } from "./pyodide/pyodide.mjs";

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

// Python's start is mostly the interpreter starting up; a memory snapshot of one just started (Pyodide's
// experimental _makeSnapshot) restores far faster. Taken from, in order: the one this browser kept in Cache
// Storage after a fresh start; the one the site builder shipped gzipped beside Pyodide (web/snapshot.py);
// a fresh start, which takes one and keeps it. One missing, malformed or refused falls through to the next
// (a kept one is then deleted). The cache is not named "digitnet-…", which a new site version deletes.
const SNAPSHOTS = "python-snapshot";
const snapshotUrl = (indexURL) => `${indexURL}snapshot-${version}.bin`;
const SHIPPED_SNAPSHOT = "python-snapshot.bin.gz";
// how this worker's Python started (for the page and its tests): "kept snapshot", "shipped snapshot"
// or "fresh start"
export let pythonStart = null;

async function keptSnapshot(indexURL) {
  try {
    const cache = await caches.open(SNAPSHOTS);
    const response = await cache.match(snapshotUrl(indexURL));
    if (!response) return null;
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (looksWhole(bytes)) return bytes;
    await cache.delete(snapshotUrl(indexURL));
    return null;
  } catch {
    return null; // no Cache Storage here (an insecure origin): start afresh
  }
}

// The response for the site's own snapshot, or null: a site built without one answers 404 (fetched
// without the wrapper above, for which a missing file is a failed start).
async function shippedSnapshot(indexURL) {
  try {
    const response = await fetchFromSite(indexURL + SHIPPED_SNAPSHOT);
    return response.ok ? response : null;
  } catch {
    return null; // offline without a service worker
  }
}

async function inflated(response) {
  const stream = response.body.pipeThrough(new DecompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  if (!looksWhole(bytes)) throw new Error("the site's Python snapshot is malformed");
  return bytes;
}

// Pyodide checks a snapshot's build only after sizing the WebAssembly memory by it, and a memory that cannot
// be made hangs its start: check the header first (Pyodide 0.27's layout: magic number, offset of the heap,
// then the heap in whole 64 KiB pages, here at most 1 GiB).
const SNAPSHOT_MAGIC = 1886286592;
function looksWhole(bytes) {
  if (bytes.byteLength < 64 || bytes.byteOffset % 4) return false;
  const [magic, heapStart] = new Uint32Array(bytes.buffer, bytes.byteOffset, 2);
  const heap = bytes.byteLength - heapStart;
  return magic === SNAPSHOT_MAGIC && heapStart % 16 === 0 && heap >= 1 << 20 && heap <= 1 << 30 && heap % 65536 === 0;
}

async function keepSnapshot(indexURL, snapshot, post) {
  try {
    const headers = { "Content-Type": "application/octet-stream" };
    await (await caches.open(SNAPSHOTS)).put(snapshotUrl(indexURL), new Response(snapshot, { headers }));
    post({ type: "snapshot", saved: true });
  } catch (error) {
    post({ type: "snapshot", saved: false, reason: String(error) });
  }
}

async function forgetSnapshot(indexURL) {
  try {
    await (await caches.open(SNAPSHOTS)).delete(snapshotUrl(indexURL));
  } catch {
    // nothing kept, nothing to forget
  }
}

// Resolves once the browser has the whole of `url` (its resource-timing entry appears then), after
// `limit` ms at the latest, or once `done()`.
async function received(url, limit, done) {
  const until = performance.now() + limit;
  while (!done() && performance.now() < until && !performance.getEntriesByName(url).length) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Python restored from `snapshot` (bytes, or a promise of them: loadPyodide fetches its own files
// first and awaits the snapshot only when it needs it, so the two downloads overlap). A restore that
// has not answered 20 s after both the snapshot and Pyodide's WebAssembly are here is given up.
async function restore(indexURL, snapshot) {
  let timer = null;
  let settled = false;
  try {
    const restored = loadPyodide({ indexURL, _loadSnapshot: snapshot });
    const here = Promise.all([snapshot, received(`${indexURL}pyodide.asm.wasm`, 60000, () => settled)]);
    const late = here.then(
      () =>
        new Promise((_, reject) => {
          if (!settled) timer = setTimeout(() => reject(new Error("no answer in 20 s")), 20000);
        }),
    );
    return await Promise.race([restored, late]);
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}

async function startRuntime(indexURL, post) {
  const kept = await keptSnapshot(indexURL);
  if (kept) {
    try {
      return { pyodide: await restore(indexURL, kept), from: "kept snapshot" };
    } catch (error) {
      console.warn("the kept Python snapshot could not be restored:", error);
      await forgetSnapshot(indexURL);
    }
  }
  const shipped = await shippedSnapshot(indexURL);
  if (shipped) {
    try {
      return { pyodide: await restore(indexURL, inflated(shipped)), from: "shipped snapshot" };
    } catch (error) {
      console.warn("the site's Python snapshot could not be restored:", error);
    }
  }
  const pyodide = await loadPyodide({ indexURL, _makeSnapshot: true });
  keepSnapshot(indexURL, pyodide.makeMemorySnapshot(), post); // kept while the packages load
  return { pyodide, from: "fresh start" };
}

export async function startPython(post, module) {
  post({ type: "status", text: "Loading the Python runtime (Pyodide)…" });
  const indexURL = new URL("./pyodide/", import.meta.url).href;
  const { pyodide, from } = await Promise.race([startRuntime(indexURL, post), loadFailed]);
  pythonStart = from;
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
// A file not fetched at all (offline) is `unreachable`.
export async function fetchModel(url) {
  const response = await fetch(url).catch((error) => {
    throw Object.assign(new Error(`model file ${url} could not be fetched (${error.message})`), { unreachable: true });
  });
  if (!response.ok) throw new Error(`model file ${url}: HTTP ${response.status} ${response.statusText}`);
  if (!url.endsWith(".gz")) return response.text();
  try {
    return await new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).text();
  } catch (error) {
    throw new Error(`model file ${url} is not a valid gzip file (${error.message})`);
  }
}
