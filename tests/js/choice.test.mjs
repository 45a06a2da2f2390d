// The page's model choice from ?model= (web/choice.js): a pure function, tested without a browser.
import assert from "node:assert/strict";
import { test } from "node:test";

import { chooseModel } from "../../web/choice.js";

const index = { default: "cnn-pen.json", models: [{ file: "cnn-pen.json", name: "cnn-pen" }, { file: "c1.json", name: "c1" }] };

test("no ?model= opens the default with no note", () => {
  assert.deepEqual(chooseModel(index, ""), { file: "cnn-pen.json", note: "" });
});

test("a model the site has is opened by its file or its name", () => {
  assert.deepEqual(chooseModel(index, "?model=c1.json"), { file: "c1.json", note: "" });
  assert.deepEqual(chooseModel(index, "?model=c1"), { file: "c1.json", note: "" });
});

test("an unknown name opens the default, and the note says so without the whole of a long name", () => {
  const choice = chooseModel(index, `?model=${"x".repeat(100)}`);
  assert.equal(choice.file, "cnn-pen.json");
  assert.equal(choice.note, `There is no model “${"x".repeat(60)}…” here: showing the default model, cnn-pen.`);
  assert.equal(chooseModel(index, "?model=../secret").note, "There is no model “../secret” here: showing the default model, cnn-pen.");
});
