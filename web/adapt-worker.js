// The adapting worker: a second Pyodide running digitnet.adaptapp, so that drawing and recognising
// keep working while a model is fine-tuned. Cancel terminates this worker (a running Python loop
// cannot read messages); nothing it computed is kept.

import { fetchModel, reason, startPython, toJs } from "./python.js";

const post = (message) => self.postMessage(message);
const app = startPython(post, "digitnet.adaptapp");

async function bytesOf(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function handle(message) {
  const python = await app;
  if (message.type === "read") {
    post({ type: "read", id: message.id, ...toJs(python.read_samples(message.text)) });
  } else if (message.type === "adapt") {
    const [model, replay] = await Promise.all([
      fetchModel(message.modelUrl),
      bytesOf("data/replay.npz"),
    ]);
    const progress = (fraction, what) => post({ type: "progress", id: message.id, fraction, what });
    const started = performance.now();
    const result = toJs(python.adapt_model(model, message.name, message.samples, replay, message.seed, progress));
    post({ type: "adapted", id: message.id, seconds: (performance.now() - started) / 1000, ...result });
  }
}

self.addEventListener("message", ({ data }) => {
  handle(data).catch((error) => post({ type: "error", id: data.id, message: reason(error) }));
});
