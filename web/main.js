// The page: a drawing pad, and the answers of the digitnet worker (Pyodide + NumPy).
// Strokes are kept as lists of [x, y] points in CSS pixels; the worker turns them into
// the 28 × 28 image the network sees and sends back the prediction.

import { say, showAnswer } from "./answer.js";
import { createInside } from "./inside.js";
import { chooseModel } from "./choice.js";
import { messenger } from "./messenger.js";
import { createMyDigits } from "./mydigits.js";
import { createNumbers } from "./numbers.js";

const pad = document.getElementById("pad");
const context = pad.getContext("2d");
const statusLine = document.getElementById("status");
const bars = document.getElementById("bars");
const seen = document.getElementById("seen");
const modelSelect = document.getElementById("model");
const modelInfo = document.getElementById("model-info");

const LIVE_INTERVAL_MS = 120;
const LOAD_TIMEOUT_MS = 120000;

const drawing = { strokes: [], current: null, version: 0 };
const requests = { busy: false, pending: false, lastSent: 0, timer: null };
const modelPaths = new Map(); // model file name → the file the site ships (models/NAME.json.gz)
const modelUrl = (file) => `models/${modelPaths.get(file) || file}`;
let outputKind = "softmax";
let shown = null; // the answer shown for the current drawing: { digit, image }, or { refused }
let loadTimer = null;
let loadStarted = 0; // when loading the model was asked for (0: the page's start)
let inUse = null; // the model the recogniser holds: { value, name }
let padSize = null; // [width, height] of the pad the strokes fit

// --- state and status

function setState(state, message) {
  document.body.dataset.state = state;
  if (message !== undefined) statusLine.textContent = message;
  modelSelect.disabled = state === "loading" || modelSelect.options.length === 0;
}

function fail(message) {
  clearTimeout(loadTimer);
  setState("error", `Error: ${message}`);
}

// --- drawing

function penWidth() {
  return Math.max(6, Math.min(pad.clientWidth, pad.clientHeight) * 0.035); // the wide number pad: by its height
}

function resizePad() {
  const [width, height] = [pad.clientWidth, pad.clientHeight];
  const ratio = window.devicePixelRatio || 1;
  pad.width = Math.round(width * ratio);
  pad.height = Math.round(height * ratio);
  if (!width || !height) return;
  const scale = padSize ? Math.min(width / padSize[0], height / padSize[1]) : 1;
  padSize = [width, height];
  if (!drawing.strokes.length || scale === 1) return redraw();
  // the drawing follows the pad
  drawing.strokes = drawing.strokes.map((stroke) => stroke.map(([x, y]) => [x * scale, y * scale]));
  if (drawing.current) drawing.current = drawing.strokes.at(-1);
  changed(false);
}

function redraw() {
  const ratio = pad.width / Math.max(1, pad.clientWidth);
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, pad.clientWidth, pad.clientHeight);
  context.strokeStyle = context.fillStyle = "#1d3557";
  context.lineWidth = penWidth();
  context.lineCap = context.lineJoin = "round";
  numbers.drawOverlay(context);
  for (const stroke of drawing.strokes) drawStroke(stroke);
}

function drawStroke(points) {
  if (points.length === 1) {
    context.beginPath();
    context.arc(points[0][0], points[0][1], penWidth() / 2, 0, 2 * Math.PI);
    context.fill();
    return;
  }
  // quadratic curves through the midpoints give smooth, round strokes
  context.beginPath();
  context.moveTo(points[0][0], points[0][1]);
  for (let i = 1; i < points.length - 1; i++) {
    const [x, y] = points[i];
    const [nx, ny] = points[i + 1];
    context.quadraticCurveTo(x, y, (x + nx) / 2, (y + ny) / 2);
  }
  const last = points[points.length - 1];
  context.lineTo(last[0], last[1]);
  context.stroke();
}

// A point of the pad's drawing area, held within it.
function pointOf(event) {
  const box = pad.getBoundingClientRect();
  const x = event.clientX - box.left - pad.clientLeft;
  const y = event.clientY - box.top - pad.clientTop;
  return [Math.min(Math.max(x, 0), pad.clientWidth), Math.min(Math.max(y, 0), pad.clientHeight)];
}

function changed(live) {
  drawing.version += 1;
  shown = null;
  redraw();
  if (drawing.strokes.length === 0) showNothing();
  else requestPrediction(live);
}

pad.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  event.preventDefault();
  pad.focus({ preventScroll: true, focusVisible: false }); // for the keys 0–9 and Enter
  if (!drawing.strokes.length) numbers.clear(); // a new drawing replaces an opened picture
  pad.setPointerCapture(event.pointerId);
  drawing.current = [pointOf(event)];
  drawing.strokes.push(drawing.current);
  changed(true);
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing.current) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) drawing.current.push(pointOf(e));
  changed(true);
});

function endStroke() {
  if (!drawing.current) return;
  drawing.current = null;
  changed(false);
}

pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
pad.addEventListener("lostpointercapture", endStroke);

function clearPad() {
  numbers.clear();
  drawing.strokes = [];
  drawing.current = null;
  changed(false);
}

function undoStroke() {
  drawing.strokes.pop();
  drawing.current = null;
  changed(false);
}

document.getElementById("clear").addEventListener("click", clearPad);
document.getElementById("undo").addEventListener("click", undoStroke);
document.addEventListener("keydown", (event) => {
  if (event.target === modelSelect) return;
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    undoStroke();
  } else if (event.key === "Delete" || (event.key === "Escape" && event.target === pad)) {
    clearPad();
  }
});

// --- predictions

function requestPrediction(live) {
  if (document.body.dataset.state !== "ready") return;
  clearTimeout(requests.timer);
  const wait = live ? requests.lastSent + LIVE_INTERVAL_MS - performance.now() : 0;
  if (wait > 0) {
    requests.timer = setTimeout(() => requestPrediction(false), wait);
  } else if (requests.busy) {
    requests.pending = true;
  } else {
    sendPrediction();
  }
}

function sendPrediction() {
  const strokes = drawing.strokes;
  const count = strokes.reduce((n, s) => n + s.length, 0);
  const points = new Float32Array(2 * count);
  const lengths = new Int32Array(strokes.length);
  let i = 0;
  strokes.forEach((stroke, k) => {
    lengths[k] = stroke.length;
    for (const [x, y] of stroke) {
      points[i++] = x;
      points[i++] = y;
    }
  });
  requests.busy = true;
  requests.pending = false;
  requests.lastSent = performance.now();
  const asked = {
    version: drawing.version,
    strokes: completedStrokes(),
    points,
    lengths,
    size: Math.max(pad.clientWidth, pad.clientHeight),
    inside: inside.isOpen(),
    number: numbers.isOn(),
  };
  recogniser
    .ask("predict", asked, { transfer: [points.buffer, lengths.buffer] })
    .then(showResult, (error) => {
      say(`Could not recognise this drawing: ${error.message}`);
    })
    .finally(() => {
      requests.busy = false;
      if (requests.pending) sendPrediction();
    });
}

// Strokes whose pen is up: what a test waits for after drawing (a live prediction
// made while a stroke is being drawn counts only the strokes before it).
function completedStrokes() {
  return drawing.strokes.length - (drawing.current ? 1 : 0);
}

function showNothing(strokes = completedStrokes()) {
  const begin = numbers.isOn() ? "Write a number to begin." : "Draw a digit to begin.";
  showAnswer({ strokes, memory: null, words: drawing.strokes.length ? "" : begin });
  showBars(new Array(10).fill(0), -1);
  showSeen(null);
  inside.clear(numbers.isOn());
}

function showResult(result) {
  if (result.version !== drawing.version) return; // the drawing has changed since
  if (result.digits) {
    shown = null; // a number is not one digit to keep as a labelled drawing
    return numbers.show(result);
  }
  if (result.digit === null || result.digit === undefined) {
    showNothing(result.strokes);
    shown = { refused: result.reason };
    say(`No digit: ${result.reason}.`);
    return;
  }
  shown = { digit: result.digit, image: result.image, notDigit: result.not_digit };
  const percent = (100 * result.confidence).toFixed(0);
  const memory = result.memory; // present when kept drawings alike changed the reading (digitnet.memory)
  // "not a digit" (the digit gate): the bars and data-probs still show what the network read (with the memory)
  showAnswer({
    text: result.not_digit ? "not a digit" : String(result.digit),
    notDigit: result.not_digit,
    probs: result.probabilities,
    strokes: result.strokes,
    ms: result.ms,
    memory: memory ? memory.weight : null,
    words: result.not_digit
      ? `Not a digit (the nearest is ${result.digit}, ${percent} %)`
      : memory
        ? `Probability ${percent} % · ${memoryNote(result.digit, memory)}`
        : outputKind === "sigmoid"
          ? `Confidence ${percent} % (the winner's output minus the mean of the other nine)`
          : `Probability ${percent} %`,
    unsure: result.low_confidence && !result.not_digit ? "digit" : null,
  });
  showBars(result.probabilities, result.digit);
  showSeen(result.image);
  inside.show(result, outputKind);
}

// How the kept drawings changed the answer: the digit itself, or only how sure the page is of it.
function memoryNote(digit, memory) {
  const alike = `${memory.alike} kept drawing${memory.alike === 1 ? "" : "s"} alike`;
  return memory.without_digit === digit
    ? `with your drawings (${alike})`
    : `from your drawings (${alike}; the network alone reads ${memory.without_digit})`;
}

function makeBars() {
  for (let digit = 0; digit < 10; digit++) {
    const item = document.createElement("li");
    item.innerHTML = `<span>${digit}</span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
    bars.appendChild(item);
  }
}

function showBars(probabilities, winner) {
  [...bars.children].forEach((item, digit) => {
    const p = probabilities[digit] || 0;
    item.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    item.querySelector(".value").textContent = winner < 0 ? "" : `${(100 * p).toFixed(1)} %`;
    item.classList.toggle("winner", digit === winner);
    item.setAttribute("aria-label", `${digit}: ${(100 * p).toFixed(1)} percent`);
  });
}

function showSeen(image) {
  const seenContext = seen.getContext("2d");
  const pixels = seenContext.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = image ? Math.round(255 * image[i]) : 0;
    pixels.data.set([v, v, v, 255], 4 * i);
  }
  seenContext.putImageData(pixels, 0, 0);
}

// --- models and the worker

// the worker starts Python at once; its news: how that goes, and whether it was kept for the next visit
const recogniser = messenger(() => new Worker("worker.js", { type: "module" }), {
  onNews(news) {
    if (news.type === "status" && document.body.dataset.state === "loading") statusLine.textContent = news.text;
    if (news.type === "snapshot") {
      document.body.dataset.snapshot = news.saved ? "saved" : "not saved";
      if (!news.saved) console.warn("Python's start could not be kept for the next visit:", news.reason);
    }
  },
  onCrash: (message) => fail(`the recogniser could not start (${message})`),
});
recogniser.start();
const inside = createInside({
  view: document.getElementById("inside"),
  ask: recogniser.ask,
  onOpen: () => drawing.strokes.length && requestPrediction(false),
});

function modelReady({ info, python }) {
  clearTimeout(loadTimer);
  outputKind = info.output_kind;
  inUse = { value: modelSelect.value, name: info.name.replace(/\.json$/, "") };
  inside.modelChanged(info.name);
  myDigits.modelReady(info.memory);
  const accuracy = typeof info.test_accuracy === "number" ? `, ${info.test_accuracy.toFixed(2)} % on MNIST test` : "";
  const kinds = info.layers.filter((k) => !["reshape", "dropout"].includes(k)).join(" → ");
  modelInfo.textContent = `${kinds}; ${info.parameters.toLocaleString("en")} parameters${accuracy}.`;
  document.body.dataset.readyAt = performance.now().toFixed(0);
  document.body.dataset.python = python; // "kept snapshot", "shipped snapshot" or "fresh start" (web/python.js)
  const seconds = (performance.now() - loadStarted) / 1000;
  setState("ready", `Ready: model ${inUse.name} (${seconds.toFixed(1)} s to load).`);
  keepOffline();
  if (drawing.strokes.length) requestPrediction(false);
}

// A model not loaded: the one in use stays.
function keepModel(error) {
  clearTimeout(loadTimer);
  const option = modelSelect.selectedOptions[0];
  const name = optionName(option);
  if (error.unreachable) markOffline(option, true);
  modelSelect.value = inUse.value;
  myDigits.modelChanged();
  const why = error.unreachable ? "is not available offline" : `could not be loaded (${error.message})`;
  setState("ready", `Model ${name} ${why}: still using ${inUse.name}.`);
  if (drawing.strokes.length) requestPrediction(false);
}

const optionName = (option) => option?.textContent.split(" — ")[0] || modelSelect.value;

// Offline, the selector marks the site's models not kept for offline use.
function markOffline(option, unavailable) {
  option.dataset.label ??= option.textContent;
  option.textContent = option.dataset.label + (unavailable ? " · not available offline" : "");
}

async function checkOffline() {
  if (!navigator.serviceWorker?.controller) return;
  for (const option of modelSelect.options) {
    if (modelPaths.has(option.value)) markOffline(option, !navigator.onLine && !(await caches.match(modelUrl(option.value))));
  }
}
window.addEventListener("offline", checkOffline);
window.addEventListener("online", checkOffline);

async function loadModels() {
  const response = await fetch("models/index.json");
  if (!response.ok) throw new Error(`models/index.json: HTTP ${response.status}`);
  const index = await response.json();
  for (const model of index.models) {
    modelPaths.set(model.file, model.path || model.file);
    const figures = [];
    if (model.writers_accuracy != null) figures.push(`${model.writers_accuracy.toFixed(1)} % real writers`);
    if (model.test_accuracy != null) figures.push(`${model.test_accuracy.toFixed(2)} % MNIST test`);
    const option = new Option(`${model.name} — ${figures.join(", ") || "no held-out test"}`, model.file);
    option.title = model.description;
    modelSelect.add(option);
  }
  const choice = chooseModel(index, location.search);
  modelSelect.value = choice.file;
  document.getElementById("note").textContent = choice.note;
  document.getElementById("note").hidden = !choice.note;
  await myDigits.modelsListed(new URLSearchParams(location.search).has("model"));
  selectModel();
}

function selectModel() {
  const name = optionName(modelSelect.selectedOptions[0]);
  if (inUse) loadStarted = performance.now();
  setState("loading", `Loading model ${name}…`);
  clearTimeout(loadTimer);
  loadTimer = setTimeout(() => fail(`the recogniser did not become ready within ${LOAD_TIMEOUT_MS / 1000} s`), LOAD_TIMEOUT_MS);
  const text = myDigits.modelText(modelSelect.value);
  recogniser
    .ask("model", { url: modelUrl(modelSelect.value), name: text ? name : modelSelect.value, text })
    .then(modelReady, (error) => (inUse ? keepModel(error) : fail(error.message)));
  myDigits.modelChanged();
}

modelSelect.addEventListener("change", selectModel);

// A hook for tests and the curious: the current model's raw outputs for flat 784-pixel images.
window.digitnet = {
  feedforward: (images) => recogniser.ask("feedforward", { images: Float32Array.from(images) }),
  // each drawing of a strokes file read as the pad would read it now (with the memory): probabilities or null
  readFile: (text) => recogniser.ask("read-file", { text }),
  inside: () => inside.latest(), // what the Inside view last showed
};

// --- start

const numbers = createNumbers({ ask: recogniser.ask, redraw, showBars, showSeen, clearPad, penWidth });
const myDigits = createMyDigits({
  pad,
  modelSelect,
  drawing: () => ({ strokes: drawing.strokes, canvas: [pad.clientWidth, pad.clientHeight] }),
  answer: () => numbers.answer(drawing.version) ?? shown, // a number's selected digit
  next: () => (numbers.answer(drawing.version)?.strokes && numbers.keptDigit()) || clearPad(), // once kept
  select: selectModel,
  modelUrl,
  // the recogniser's memory of kept drawings: { change: "remember" | "replace" | "forget", text, ids }
  memory: (request) => recogniser.ask("memory", request),
});

makeBars();
showNothing();
new ResizeObserver(resizePad).observe(pad);
resizePad();
setState("loading", "Loading the recogniser…");
document.body.dataset.padReadyAt = performance.now().toFixed(0); // the pad takes input from here on
loadModels().catch((error) => fail(error.message));

// The offline copy is made once the recogniser is ready, not at once: the service worker's download of
// the whole site competed with Pyodide's start and delayed the first answer (docs/performance.md).
let offlineRequested = false;
function keepOffline() {
  if (offlineRequested || !("serviceWorker" in navigator)) return;
  offlineRequested = true;
  navigator.serviceWorker
    .register("sw.js")
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      document.body.dataset.offline = "ready";
      checkOffline();
    })
    .catch((error) => console.warn("offline use unavailable:", error));
}
