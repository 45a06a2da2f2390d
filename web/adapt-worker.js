// The adapting worker: a second Pyodide running digitnet.adaptapp, so that drawing and recognising
// keep working while a model is fine-tuned. Cancel terminates this worker (a running Python loop
// cannot read messages); nothing it computed is kept. One answer per request (web/messenger.js).

import { answer } from "./messenger.js";
import { fetchModel, reason, startPython, toJs } from "./python.js";

const app = startPython((news) => self.postMessage(news), "digitnet.adaptapp");

async function bytesOf(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

answer(
  self,
  {
    async read({ text }) {
      return toJs((await app).read_samples(text));
    },
    async adapt({ modelUrl, name, samples, seed }, progress) {
      const python = await app;
      const [model, replay] = await Promise.all([fetchModel(modelUrl), bytesOf("data/replay.npz")]);
      const started = performance.now();
      const report = (fraction, what) => progress({ fraction, what });
      const result = toJs(python.adapt_model(model, name, samples, replay, seed, report));
      return { seconds: (performance.now() - started) / 1000, ...result };
    },
  },
  reason,
);
