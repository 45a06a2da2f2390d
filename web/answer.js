// The answer: #prediction (the digit, the number or "not a digit"; data-probs what the bars show, data-strokes,
// data-ms, data-digits, data-memory and data-picture for tests), the line under it (#confidence) and the hint
// (#hint). This module alone writes them; main.js shows a digit, numbers.js a number.

const prediction = document.getElementById("prediction");
const line = document.getElementById("confidence");
const hint = document.getElementById("hint");
const HINTS = {
  digit: "Not sure: try drawing the digit again, larger or more clearly.",
  number: "Not sure of a digit marked in red: write it again, larger or more clearly.",
};

// `text` shown large; `probs` the bars'; `words` the line; `unsure`: the hint to show ("digit", "number") or none.
// `strokes`, `ms`, `digits` (a number's, listed) and `memory` (its weight; null: none) are kept when left out.
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
