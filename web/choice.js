// Which model the page opens with: ?model=NAME (or NAME.json) when the site has it; otherwise the
// default, with a note saying so (an unknown name must never be fetched: it could be any path).

const SHOWN_CHARACTERS = 60;

export function chooseModel(index, search) {
  const wanted = new URLSearchParams(search).get("model");
  if (!wanted) return { file: index.default, note: "" };
  const match = index.models.find((model) => model.file === wanted || model.name === wanted);
  if (match) return { file: match.file, note: "" };
  const shown = wanted.length > SHOWN_CHARACTERS ? `${wanted.slice(0, SHOWN_CHARACTERS)}…` : wanted;
  const fallback = index.default.replace(/\.json$/, "");
  return { file: index.default, note: `There is no model “${shown}” here: showing the default model, ${fallback}.` };
}
