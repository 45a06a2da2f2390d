// The Train panel's worker: a Pyodide of its own running digitnet.trainapp, so that drawing and
// recognising keep working while one of the book's networks learns. A run goes a few mini-batches at
// a time, with a turn of the event loop in between, so that pause, resume and stop are read at once.
// One answer per request ("train", "parameters"; web/messenger.js); "pause", "resume" and "stop" act on the
// run under way and are answered with nothing.

import { answer } from "./messenger.js";
import { reason, startPython, toJs } from "./python.js";

let app = null;
const runtime = () => (app ??= startPython((news) => self.postMessage(news), "digitnet.trainapp"));

const CHUNK_MS = 150; // about this long between two looks at the messages
const control = { paused: false, stopped: false, wake: null };
let refetch = false; // after a refused file: past the browser's caches

async function bytesOf(url) {
  const response = await fetch(url, refetch ? { cache: "reload" } : {});
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The MNIST subset, fetched once (the service worker keeps it for offline use) and checked against the
// sha256 that data/index.json lists; a refused copy is dropped from the offline cache.
async function loadData(python, progress) {
  if (python.has_data()) return;
  const response = await fetch("data/index.json");
  if (!response.ok) throw new Error(`data/index.json: HTTP ${response.status} ${response.statusText}`);
  const entry = (await response.json()).book;
  progress({ stage: "data", bytes: entry.bytes });
  const url = `data/${entry.file}`;
  const bytes = await bytesOf(url);
  try {
    toJs(python.load_data(bytes, entry.sha256));
  } catch (error) {
    refetch = true;
    for (const key of self.caches ? await caches.keys() : []) {
      if (key.startsWith("digitnet-")) await (await caches.open(key)).delete(new URL(url, self.location.href).href);
    }
    throw error;
  }
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

async function train({ settings }, progress) {
  Object.assign(control, { paused: false, stopped: false, wake: null }); // a Stop while loading is kept
  progress({ stage: "python" });
  const python = await runtime();
  await loadData(python, progress);
  const first = toJs(python.start(JSON.stringify(settings)));
  progress({ stage: "started", ...first });
  let batches = 10;
  const started = performance.now();
  let stepping = 0; // ms spent in SGD steps (epochs' evaluations left out)
  let steps = 0;
  let epochMs = 0; // ms of Python work in the epoch under way, its evaluation included
  while (!control.stopped) {
    if (control.paused) {
      progress({ stage: "paused" });
      await new Promise((resolve) => (control.wake = resolve));
      continue;
    }
    const t0 = performance.now();
    const step = toJs(python.advance(batches));
    const ms = performance.now() - t0;
    epochMs += ms;
    if (step.figures) {
      step.epoch_ms = epochMs;
      epochMs = 0;
    } else {
      stepping += ms;
      steps += batches;
      batches = Math.max(1, Math.min(2000, Math.round((CHUNK_MS * steps) / Math.max(stepping, 1))));
    }
    progress({ stage: "training", ms, ...step });
    if (step.finished) break;
    await turn();
  }
  const result = toJs(python.finish());
  return { stopped: control.stopped, seconds: (performance.now() - started) / 1000, ...result };
}

function steer(action) {
  control.paused = action === "pause";
  control.stopped ||= action === "stop";
  control.wake?.();
  control.wake = null;
}

answer(
  self,
  {
    train,
    async parameters() {
      return toJs((await runtime()).parameters());
    },
    pause: () => steer("pause"),
    resume: () => steer("resume"),
    stop: () => steer("stop"),
  },
  reason,
);
