// The answer: #prediction (its data-* attributes for tests), #confidence and #hint. Only this module writes them.

const prediction = document.getElementById("prediction");
const line = document.getElementById("confidence");
const hint = document.getElementById("hint");
const HINTS = {
  digit: "Not sure: try drawing the digit again, larger or more clearly.",
  number: "Not sure of a digit marked in red: write it again, larger or more clearly.",
};

// `probs`: the bars'; `unsure`: which hint, if any. `strokes`, `ms`, `digits`, `memory` (null: none) stay if left out.
export function showAnswer({ text = "", probs = [], words = "", unsure = null, notDigit = false, ...marks }) {
  prediction.textContent = text;
  prediction.classList.toggle("not-digit", notDigit);
  prediction.dataset.probs = JSON.stringify(probs);
  if (marks.strokes !== undefined) prediction.dataset.strokes = String(marks.strokes);
  if (marks.ms !== undefined) prediction.dataset.ms = marks.ms.toFixed(2);
  if (marks.digits !== undefined) prediction.dataset.digits = JSON.stringify(marks.digits);
  if (marks.memory === null) delete prediction.dataset.memory;
  else if (marks.memory !== undefined) prediction.dataset.memory = marks.memory.toFixed(3);
  say(words);
  hint.hidden = !unsure;
  if (unsure) hint.textContent = HINTS[unsure];
}

export const say = (words) => (line.textContent = words);
export const showProbs = (probs) => (prediction.dataset.probs = JSON.stringify(probs)); // a number's selected digit
export const markPicture = (state) => (prediction.dataset.picture = state); // "reading", "read" or "error"
export const forgetDigits = () => delete prediction.dataset.digits;
export const widen = (wide) => prediction.classList.toggle("number", wide);
