// The Train panel's hook in the page: nothing of it loads until the panel is first opened, then its
// style sheet and train-panel.js (which builds the panel and, at the first Train, starts its worker).

const details = document.getElementById("train");
let loading = null;

details.addEventListener("toggle", () => {
  if (!details.open || loading) return;
  document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: "train.css" }));
  document.body.dataset.train = "loading-panel";
  loading = import("./train-panel.js").catch((error) => {
    loading = null;
    document.body.dataset.train = "error";
    details.append(Object.assign(document.createElement("p"), { textContent: `The Train panel could not load: ${error.message}.` }));
  });
});
