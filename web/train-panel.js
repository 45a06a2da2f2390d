// The Train panel: one of the book's set-ups (c1, c2) trained from scratch in a worker of its own
// (train-worker.js, digitnet.book in Pyodide), watched as it learns: the cost and the validation
// accuracy per epoch (SVG), the hidden neurons' weights as images, validation digits it misreads.
// Imported by train.js when the panel is first opened; the trained network is handed to mydigits.js,
// which keeps it in IndexedDB beside the adapted models and offers it in the selector as "… · trained here".
// The form's bounds, options and defaults are digitnet.book's LIMITS, CHOICES and SETUPS (tests/test_book_train.py checks).

import { messenger } from "./messenger.js";

const BODY = `
<div class="train-body">
  <p class="train-note">Nielsen's networks, trained by the same NumPy code as <code>digitnet book-train</code>
    in CPython (the same seed gives the same network), in a worker of their own: drawing and recognising go on.
    The first use fetches a subset of MNIST (10,000 training and 2,000 validation digits).</p>
  <form id="train-form" class="train-settings">
    <label class="train-setup">Set-up
      <select id="train-setup" name="setup">
        <option value="c1" data-eta="3" data-l2="0" data-cost="quadratic" data-init="large">c1 (ch. 1): [784, 30, 10] sigmoid, quadratic cost</option>
        <option value="c2" data-eta="0.5" data-l2="5" data-cost="cross-entropy" data-init="default">c2 (ch. 3): cross-entropy cost + L2 regularisation</option>
      </select></label>
    <label>Cost <select name="cost">
        <option value="quadratic">quadratic (ch. 1)</option>
        <option value="cross-entropy">cross-entropy (ch. 3)</option>
      </select></label>
    <label>Weights <select name="init">
        <option value="large">N(0, 1) (ch. 1)</option>
        <option value="default">N(0, 1/n_in) (ch. 3)</option>
      </select></label>
    <label>Hidden neurons <input name="hidden" type="number" min="1" max="200" step="1" value="30"></label>
    <label>η <input name="eta" type="number" min="0.001" max="100" step="any" value="3"></label>
    <label>λ <input name="l2" type="number" min="0" max="100" step="any" value="0"></label>
    <label>Mini-batch <input name="batch_size" type="number" min="1" max="1000" step="1" value="10"></label>
    <label>Epochs <input name="epochs" type="number" min="1" max="100" step="1" value="30"></label>
    <label>Training images <input name="train_size" type="number" min="10" max="10000" step="1" value="10000"></label>
    <label>Seed <input name="seed" type="number" min="0" max="4294967295" step="1" value="1"></label>
  </form>
  <div class="buttons">
    <button id="train-start" type="button">Train</button>
    <button id="train-pause" type="button" disabled>Pause</button>
    <button id="train-stop" type="button" disabled>Stop</button>
    <progress id="train-progress" max="1" value="0" hidden></progress>
  </div>
  <p id="train-status" role="status" aria-live="polite"></p>
  <div class="train-live">
    <figure class="train-curves">
      <svg id="train-plot" viewBox="0 0 360 220" role="img" aria-label="Training cost and validation accuracy per epoch"></svg>
      <figcaption>Per epoch: the cost on the training images (with its L2 term) and the accuracy on the
        2,000 validation digits.</figcaption>
    </figure>
    <figure class="train-units">
      <div id="train-weights" class="unit-grid"></div>
      <figcaption>Each hidden neuron's 784 incoming weights as a 28 × 28 image (red positive, blue
        negative), as they are now.</figcaption>
    </figure>
    <figure class="train-misread">
      <div id="train-misread"></div>
      <figcaption id="train-misread-caption">Validation digits it misreads, after each epoch.</figcaption>
    </figure>
  </div>
  <div id="train-actions" class="buttons" hidden>
    <button id="train-use" type="button">Draw with it</button>
    <button id="train-download" type="button">Download the trained model</button>
    <button id="train-delete" type="button">Delete it</button>
  </div>
</div>
`;

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const POSITIVE = [230, 57, 70];
const NEGATIVE = [29, 110, 200];
const PAINT_MS = 200; // the weights are repainted at most this often

document.getElementById("train").insertAdjacentHTML("beforeend", BODY);

const trainer = messenger(() => new Worker("train-worker.js", { type: "module" }));
const panel = {
  run: null, // the run under way: { setup, settings, history, seconds, paused, where }
  kept: new Map(), // set-up → its kept record ({ base, text, report, time })
  painted: 0,
};

// ---------------------------------------------------------------- talking to mydigits.js and the worker

// Ask mydigits.js (which holds the IndexedDB store and the selector) to do `action` with a trained model.
function models(action, details = {}) {
  const detail = { action, ...details };
  document.dispatchEvent(new CustomEvent("digitnet-trained", { detail }));
  return detail.done ?? Promise.reject(new Error("models cannot be kept in this browser"));
}

// ---------------------------------------------------------------- what the panel shows

function setState(state, text) {
  document.body.dataset.train = state;
  if (text !== undefined) $("train-status").textContent = text;
  const busy = ["loading", "running", "paused", "stopping"].includes(state);
  $("train-start").disabled = busy;
  $("train-pause").disabled = !["running", "paused"].includes(state);
  $("train-stop").disabled = !busy || state === "stopping";
  $("train-pause").textContent = state === "paused" ? "Resume" : "Pause";
  for (const input of $("train-form").elements) input.disabled = busy;
  $("train-progress").hidden = !busy;
}

function element(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Two panels over the epochs 1 … E: the training cost (top) and the validation accuracy (bottom).
function plot(history, epochs) {
  const svg = $("train-plot");
  svg.dataset.history = JSON.stringify(history);
  const left = 46;
  const right = 350;
  const x = (epoch) => (epochs > 1 ? left + ((right - left) * (epoch - 1)) / (epochs - 1) : (left + right) / 2);
  const parts = [];
  const panelOf = (top, bottom, values, label, format) => {
    const low = Math.min(...values);
    const high = Math.max(...values);
    const span = high > low ? high - low : Math.abs(high) || 1;
    const y = (v) => bottom - ((bottom - top) * (v - low)) / span;
    parts.push(element("line", { x1: left, y1: bottom, x2: right, y2: bottom, class: "axis" }));
    parts.push(element("line", { x1: left, y1: top, x2: left, y2: bottom, class: "axis" }));
    parts.push(element("text", { x: left - 4, y: top + 4, class: "tick end" }, format(high)));
    parts.push(element("text", { x: left - 4, y: bottom, class: "tick end" }, format(low)));
    parts.push(element("text", { x: left + 6, y: top - 3, class: "label" }, label));
    const points = values.map((v, i) => `${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`);
    parts.push(element("polyline", { points: points.join(" "), class: "curve" }));
    values.forEach((v, i) => parts.push(element("circle", { cx: x(i + 1), cy: y(v), r: 2.5, class: "point" })));
  };
  if (history.length) {
    const last = history[history.length - 1];
    panelOf(18, 92, history.map((h) => h.training_cost), `training cost ${last.training_cost.toFixed(4)}`,
      (v) => v.toFixed(3));
    panelOf(122, 196, history.map((h) => h.validation_accuracy),
      `validation accuracy ${last.validation_accuracy.toFixed(2)} %`, (v) => `${v.toFixed(1)} %`);
  }
  parts.push(element("text", { x: left, y: 214, class: "tick" }, "epoch 1"));
  parts.push(element("text", { x: right, y: 214, class: "tick end" }, `epoch ${epochs}`));
  svg.replaceChildren(...parts);
}

function canvas(label) {
  const node = Object.assign(document.createElement("canvas"), { width: 28, height: 28 });
  node.setAttribute("aria-label", label);
  return node;
}

// Each hidden neuron's incoming weights, red where positive and blue where negative, on its own scale.
function paintWeights(weights, units, force) {
  const now = performance.now();
  if (!force && now - panel.painted < PAINT_MS) return;
  panel.painted = now;
  const grid = $("train-weights");
  if (grid.children.length !== units) {
    grid.replaceChildren(...Array.from({ length: units }, (_, i) => canvas(`the weights into hidden neuron ${i + 1}`)));
    for (const node of grid.children) node.className = "unit-image";
  }
  [...grid.children].forEach((node, unit) => {
    const values = weights.subarray(784 * unit, 784 * (unit + 1));
    let scale = 0;
    for (const v of values) scale = Math.max(scale, Math.abs(v));
    const context = node.getContext("2d");
    const pixels = context.createImageData(28, 28);
    values.forEach((v, i) => {
      const t = scale ? Math.abs(v) / scale : 0;
      const colour = v >= 0 ? POSITIVE : NEGATIVE;
      pixels.data.set([255 + t * (colour[0] - 255), 255 + t * (colour[1] - 255), 255 + t * (colour[2] - 255), 255], 4 * i);
    });
    context.putImageData(pixels, 0, 0);
  });
}

function showMisread(misread) {
  const items = misread.labels.map((label, k) => {
    const figure = document.createElement("figure");
    const node = canvas(`a ${label} read as ${misread.answers[k]}`);
    const context = node.getContext("2d");
    const pixels = context.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = misread.images[784 * k + i];
      pixels.data.set([v, v, v, 255], 4 * i);
    }
    context.putImageData(pixels, 0, 0);
    const caption = Object.assign(document.createElement("figcaption"), { textContent: `${label} → ${misread.answers[k]}` });
    figure.append(node, caption);
    return figure;
  });
  $("train-misread").replaceChildren(...items);
  $("train-misread-caption").textContent =
    `It misreads ${misread.count.toLocaleString("en")} of the ${misread.validation.toLocaleString("en")} validation digits; ` +
    `the first ${items.length} (digit → what it read):`;
}

function showActions() {
  const setup = $("train-setup").value;
  $("train-actions").hidden = !panel.kept.has(setup) || panel.run !== null;
  $("train-use").textContent = `Draw with ${setup} · trained here`;
}

// ---------------------------------------------------------------- a run

function request() {
  const form = $("train-form");
  const values = {};
  for (const field of form.elements) if (field.name !== "setup") values[field.name] = field.value;
  return { setup: $("train-setup").value, values };
}

function where(step) {
  return `epoch ${step.epoch} of ${step.epochs}, mini-batch ${step.batches_done.toLocaleString("en")} of ` +
    step.batches_per_epoch.toLocaleString("en");
}

function onProgress(data) {
  const run = panel.run;
  if (data.stage === "python") return setState("loading", "Starting Python for training…");
  if (data.stage === "data") {
    return setState("loading", `Fetching the MNIST subset (${(data.bytes / 1e6).toFixed(1)} MB, kept for offline use)…`);
  }
  if (data.stage === "paused") return setState("paused", `Paused at ${run.where}: Resume goes on from there.`);
  if (data.stage === "started") {
    run.settings = data.settings;
    plot([], data.settings.epochs);
    paintWeights(data.weights, data.units, true);
  }
  const step = data;
  run.where = where(step);
  const done = (step.epoch - 1) * step.batches_per_epoch + step.batches_done;
  $("train-progress").value = done / (step.epochs * step.batches_per_epoch);
  if (step.figures) {
    run.history.push(step.figures);
    run.seconds.push(step.epoch_ms / 1000);
    $("train-plot").dataset.seconds = JSON.stringify(run.seconds); // Python's time per epoch, for benchmarks
    plot(run.history, step.epochs);
    showMisread(step.misread);
  }
  paintWeights(step.weights, step.units, Boolean(step.figures));
  const last = run.history[run.history.length - 1];
  const figures = last ? ` Last epoch: cost ${last.training_cost.toFixed(4)}, validation ${last.validation_accuracy.toFixed(2)} %.` : "";
  if (document.body.dataset.train !== "stopping") {
    setState(run.paused ? "paused" : "running", `Training ${run.setup}: ${run.where}.${figures}`);
  }
}

async function start() {
  const asked = request();
  panel.run = { setup: asked.setup, history: [], seconds: [], paused: false, where: "the start" };
  showActions();
  setState("loading", "Starting…");
  try {
    const result = await trainer.ask("train", { settings: asked }, { onProgress });
    const report = result.report;
    const when = result.stopped ? `Stopped at ${panel.run.where}` : `Trained ${asked.setup} for ${report.epochs} epochs`;
    if (!report.epochs && !report.batches_done) {
      setState("stopped", "Stopped before the first mini-batch: nothing to keep.");
      return;
    }
    const figures = `validation ${report.validation_accuracy.toFixed(2)} % (${result.seconds.toFixed(1)} s)`;
    panel.last = { setup: asked.setup, text: result.model };
    try {
      const record = await models("keep", { name: asked.setup, text: result.model, report });
      panel.kept.set(asked.setup, record);
      setState(result.stopped ? "stopped" : "done", `${when}: ${figures}. Now drawing with ${asked.setup} · trained here.`);
    } catch (error) {
      setState(result.stopped ? "stopped" : "done", `${when}: ${figures}. It could not be kept (${error.message}); download it.`);
      panel.kept.set(asked.setup, { text: result.model, report });
    }
  } catch (error) {
    setState("error", `Could not train: ${error.message}.`);
  } finally {
    panel.run = null;
    showActions();
  }
}

$("train-start").addEventListener("click", start);

$("train-pause").addEventListener("click", () => {
  const run = panel.run;
  if (!run) return;
  run.paused = !run.paused;
  trainer.tell(run.paused ? "pause" : "resume");
  if (!run.paused) setState("running", `Training ${run.setup}: ${run.where}.`);
});

$("train-stop").addEventListener("click", () => {
  if (!panel.run) return;
  panel.run.paused = false;
  setState("stopping", `Stopping at ${panel.run.where}…`);
  trainer.tell("stop");
});

$("train-setup").addEventListener("change", () => {
  const option = $("train-setup").selectedOptions[0];
  const form = $("train-form");
  for (const name of ["eta", "l2", "cost", "init"]) form.elements[name].value = option.dataset[name];
  showActions();
});

$("train-use").addEventListener("click", () => models("use", { name: $("train-setup").value }).catch(() => {}));

$("train-download").addEventListener("click", () => {
  const setup = $("train-setup").value;
  const record = panel.kept.get(setup);
  if (!record) return;
  const url = URL.createObjectURL(new Blob([record.text], { type: "application/json" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: `${setup}-trained-here.json` });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});

$("train-delete").addEventListener("click", async () => {
  const setup = $("train-setup").value;
  await models("forget", { name: setup }).catch(() => {});
  panel.kept.delete(setup);
  showActions();
  $("train-status").textContent = `The network ${setup} trained here was deleted.`;
});

// A hook for tests and the curious: every parameter of the network being (or last) trained, float64.
window.digitnetTrain = {
  parameters: () => trainer.ask("parameters").then((values) => Array.from(values)),
};

// The models trained here before (kept by mydigits.js), for the download and delete buttons.
models("list")
  .then((records) => {
    for (const record of records) panel.kept.set(record.base.replace(/^trained:/, ""), record);
    showActions();
  })
  .catch(() => {});
setState("idle");
