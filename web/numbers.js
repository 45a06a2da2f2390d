// Numbers: the "A number" mode (the worker groups the strokes into digits) and "Open a picture" (Pillow
// loaded on first use). A box around each digit on the pad; #digit-choice selects the one "It's a" labels.

import { forgetDigits, markPicture, say, showAnswer, showProbs, widen } from "./answer.js";

const pad = document.getElementById("pad");
const padArea = document.querySelector(".pad-area");
const choice = document.getElementById("digit-choice");
const modeInputs = [...document.querySelectorAll("input[name=mode]")];
const pictureInputs = [document.getElementById("picture"), document.getElementById("camera")];

// `page`: main.js's helpers {ask, redraw, showBars, showSeen, clearPad, penWidth}.
export function createNumbers(page) {
  const LOW_CONFIDENCE = 0.5;
  // toPad: a box in pad pixels; kept: the digits labelled; version: the drawing's (main.js); refused: why
  // nothing was read; picture: {bitmap, width, height} or null
  const shown = { digits: [], toPad: null, selected: 0, kept: new Set(), refused: null, picture: null };
  let pictureId = 0;

  function numberMode() {
    return padArea.classList.contains("number");
  }

  // The mode switch and the picture buttons wired, the mode the address asks for (?mode=number) shown.
  const wanted = new URLSearchParams(location.search).get("mode");
  for (const input of modeInputs) input.addEventListener("change", () => setMode(input.value));
  showMode(wanted === "number" ? "number" : "digit");
  for (const input of pictureInputs) {
    input.addEventListener("change", () => {
      if (input.files.length) openPicture(input.files[0]);
      input.value = ""; // the same file can be opened again
    });
  }
  // the camera button helps where there is a camera to open: phones and tablets
  document.getElementById("camera-button").hidden = !matchMedia("(pointer: coarse)").matches;

  function showMode(mode) {
    for (const input of modeInputs) input.checked = input.value === mode;
    padArea.classList.toggle("number", mode === "number");
    widen(mode === "number");
  }

  function setMode(mode) {
    showMode(mode);
    page.clearPad();
  }

  // --- showing a reading

  // A number read from strokes or from a picture: the number, the per-digit answers and boxes.
  function showNumber(result, toPad = strokeBox) {
    const digits = result.digits || [];
    // the same drawing read again: the same digit selected, the same kept
    const again = result.version === shown.version && digits.length === shown.digits.length;
    const kept = again ? shown.kept : new Set();
    const refused = digits.length ? null : result.reason;
    Object.assign(shown, { digits, toPad, kept, refused, version: result.version });
    const answer = {
      text: result.not_digit ? "not a digit" : result.number,
      notDigit: Boolean(result.not_digit),
      digits: digits.map((d) => ({ digit: d.digit, probabilities: d.probabilities, box: d.box, not_digit: d.not_digit })),
      strokes: result.strokes ?? 0,
      ms: result.ms,
    };
    if (!digits.length) {
      showAnswer({ ...answer, words: `No number: ${result.reason}.` });
      page.showBars(new Array(10).fill(0), -1);
      page.showSeen(null);
      showChoice();
      page.redraw();
      return;
    }
    // a digit that is no digit is selected first, else the one the network is least sure of
    const weakest = digits.find((d) => d.not_digit) ?? digits.reduce((a, b) => (b.confidence < a.confidence ? b : a));
    const index = digits.indexOf(weakest);
    const percent = (100 * weakest.confidence).toFixed(0);
    const words = weakest.not_digit
      ? digits.length === 1
        ? `Not a digit (the nearest is ${weakest.digit}, ${percent} %)`
        : `Not a number: digit ${index + 1} is no digit (the nearest is ${weakest.digit}, ${percent} %)`
      : digits.length === 1
        ? `Probability ${percent} %`
        : `${digits.length} digits; least sure of digit ${index + 1} (${weakest.digit}): ${percent} %`;
    const unsure = !result.not_digit && digits.some((d) => d.confidence < LOW_CONFIDENCE);
    showAnswer({ ...answer, words, unsure: unsure ? "number" : null });
    select(again ? shown.selected : index);
  }

  // The digit the bars show and the "It's a" buttons label.
  function select(index) {
    const digit = shown.digits[index];
    shown.selected = index;
    showProbs(digit.probabilities);
    page.showBars(digit.probabilities, digit.digit);
    page.showSeen(digit.image);
    showChoice();
    page.redraw();
  }

  // A button per digit (the row keeps its place in number mode).
  function showChoice() {
    const digits = shown.digits;
    choice.hidden = !numberMode();
    if (digits.length < 2) return choice.replaceChildren();
    const buttons = digits.map((d, i) => {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: String(d.digit) });
      button.setAttribute("aria-pressed", String(i === shown.selected));
      button.addEventListener("click", () => select(i));
      return button;
    });
    choice.replaceChildren(Object.assign(document.createElement("span"), { textContent: "Digit" }), ...buttons);
  }

  // What "It's a" labels: {digit, image, strokes (places in the drawing)}, {refused}, {picture} or null.
  function numberAnswer(version) {
    if (shown.picture) return { picture: true };
    if (version !== shown.version) return null;
    if (shown.refused) return { refused: shown.refused };
    const digit = shown.digits[shown.selected];
    return digit
      ? { digit: digit.digit, image: digit.image, strokes: digit.stroke_indices, notDigit: digit.not_digit }
      : null;
  }

  // The selected digit is kept: select the first one not kept; false when every digit is.
  function keptDigit() {
    shown.kept.add(shown.selected);
    const next = shown.digits.findIndex((_, i) => !shown.kept.has(i));
    if (next >= 0) select(next);
    return next >= 0;
  }

  // A box around strokes' centre lines, widened by half the pen to surround the ink.
  function strokeBox([x, y, w, h]) {
    const half = page.penWidth() / 2;
    return [x - half, y - half, w + 2 * half, h + 2 * half];
  }

  function clearNumber() {
    Object.assign(shown, { digits: [], toPad: null, kept: new Set(), refused: null, picture: null, version: null });
    pictureId += 1; // a picture still being read is no longer wanted
    forgetDigits();
    showChoice();
  }

  // Drawn under the strokes: the opened picture, fitted in the pad; the digits' boxes and answers.
  function drawOverlay(context) {
    if (shown.picture) {
      const { bitmap } = shown.picture;
      const fit = pictureFit(shown.picture);
      if (bitmap) context.drawImage(bitmap, fit.left, fit.top, fit.scale * fit.width, fit.scale * fit.height);
    }
    context.save();
    context.font = "bold 16px system-ui, sans-serif";
    shown.digits.forEach((d, i) => {
      const [x, y, w, h] = shown.toPad(d.box);
      const low = d.low_confidence || d.not_digit;
      context.lineWidth = i === shown.selected && shown.digits.length > 1 ? 4 : 2;
      context.strokeStyle = context.fillStyle = low ? "#e63946" : "#2a9d8f";
      context.strokeRect(x - 4, y - 4, w + 8, h + 8);
      context.fillText(low ? `${d.digit}?` : String(d.digit), x - 4, Math.max(14, y - 8));
    });
    context.restore();
  }

  // --- pictures

  function pictureFit({ width, height }) {
    const scale = Math.min(pad.clientWidth / width, pad.clientHeight / height);
    return {
      scale,
      width,
      height,
      left: (pad.clientWidth - scale * width) / 2,
      top: (pad.clientHeight - scale * height) / 2,
    };
  }

  async function openPicture(file) {
    if (document.body.dataset.state !== "ready") return;
    page.clearPad();
    const id = ++pictureId;
    say(`Reading ${file.name}…`);
    markPicture("reading");
    const bytes = new Uint8Array(await file.arrayBuffer());
    page.ask("picture", { bytes }, { transfer: [bytes.buffer] }).then(
      (data) => showPicture(id, data),
      (error) => showPicture(id, { type: "error", message: error.message }),
    );
    // the browser shows the picture upright (EXIF orientation), as Python reads it
    const bitmap = await createImageBitmap(file).catch(() => null);
    if (id === pictureId && bitmap) {
      shown.picture = { ...(shown.picture || {}), bitmap, width: bitmap.width, height: bitmap.height };
      page.redraw();
    }
  }

  // The worker's answer for picture ``id``: {number, digits, size, ms} or {type: "error", message}.
  function showPicture(id, data) {
    if (id !== pictureId) return;
    markPicture(data.type === "error" ? "error" : "read");
    if (data.type === "error") {
      clearNumber();
      showAnswer({ digits: [], words: `Could not read this file: ${data.message}.` });
      page.redraw();
      return;
    }
    const [width, height] = data.size;
    shown.picture = { bitmap: shown.picture?.bitmap, width, height };
    if (data.digits.length > 1) showMode("number"); // several digits are a number, shown on the wide pad
    const toPad = ([x, y, w, h]) => {
      const fit = pictureFit(shown.picture);
      return [fit.left + fit.scale * x, fit.top + fit.scale * y, fit.scale * w, fit.scale * h];
    };
    showNumber(data, toPad);
  }

  return {
    isOn: numberMode,
    show: showNumber,
    answer: numberAnswer,
    keptDigit,
    clear: clearNumber,
    drawOverlay,
  };
}
