// The Inside view: what each layer of the network outputs for the current drawing, what the
// first layer's neurons look for, and why the network answered as it did (a saliency map).
// The worker computes it with digitnet.inside (the same NumPy code as CPython), only while
// the view is open; main.js asks for it with every prediction and hands the result here.

const POSITIVE = [230, 57, 70]; // more ink here raises the answer / a positive weight
const NEGATIVE = [29, 110, 200]; // more ink here lowers it / a negative weight

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function canvas(width, height, className, label) {
  const node = element("canvas", className);
  node.width = width;
  node.height = height;
  if (label) node.setAttribute("aria-label", label);
  return node;
}

// Grey levels for activations: sigmoid and softmax outputs on their own scale 0…1, so that
// a neuron that fires shows white; anything else from min(0, lowest) to the highest value.
function greyScale(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  if (low >= 0 && high <= 1) return [0, 1];
  low = Math.min(0, low);
  return [low, high > low ? high : low + 1];
}

function paintGrey(target, values, offset, [low, high]) {
  const context = target.getContext("2d");
  const pixels = context.createImageData(target.width, target.height);
  const count = target.width * target.height;
  for (let i = 0; i < count; i++) {
    const v = i < values.length - offset ? values[offset + i] : low;
    const g = Math.round((255 * (v - low)) / (high - low));
    pixels.data.set([g, g, g, 255], 4 * i);
  }
  context.putImageData(pixels, 0, 0);
}

// A signed field over a grey base: red for positive, blue for negative, opacity |v| / max |v|.
function paintSigned(target, values, base) {
  let largest = 0;
  for (const v of values) largest = Math.max(largest, Math.abs(v));
  const context = target.getContext("2d");
  const pixels = context.createImageData(target.width, target.height);
  for (let i = 0; i < values.length; i++) {
    const alpha = largest > 0 ? Math.abs(values[i]) / largest : 0;
    const colour = values[i] >= 0 ? POSITIVE : NEGATIVE;
    const g = base ? 255 * base[i] : 255;
    for (let k = 0; k < 3; k++) pixels.data[4 * i + k] = Math.round(g * (1 - alpha) + colour[k] * alpha);
    pixels.data[4 * i + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
}

export function createInside({ view, ask, onOpen }) {
  const body = view.querySelector(".inside-body");
  const why = element("section", "inside-why");
  const whyCanvas = canvas(28, 28, "saliency", "Saliency map over the 28 × 28 image the network sees");
  const whyText = element("p", "inside-note");
  const modes = element("div", "inside-modes");
  modes.setAttribute("role", "radiogroup");
  for (const [value, text] of [
    ["gradient", "gradient ∂z/∂x"],
    ["input", "input × gradient"],
  ]) {
    const labelNode = element("label");
    const radio = element("input");
    radio.type = "radio";
    radio.name = "saliency-mode";
    radio.value = value;
    radio.checked = value === "gradient";
    radio.addEventListener("change", () => last && showWhy(last));
    labelNode.append(radio, ` ${text}`);
    modes.append(labelNode);
  }
  why.append(element("h3", "", "Why this answer"), whyCanvas, modes, whyText);

  const unitsSection = element("section", "inside-units");
  const unitsTitle = element("h3");
  const unitsNote = element("p", "inside-note");
  const unitsGrid = element("div", "unit-grid");
  unitsSection.append(unitsTitle, unitsNote, unitsGrid);
  unitsSection.hidden = true;

  const layersSection = element("section", "inside-layers");
  layersSection.append(
    element("h3", "", "Every layer's output"),
    element("p", "inside-note", "Black is 0; white is 1 for sigmoid and softmax outputs, else the panel's largest value."),
  );
  const layerPanels = element("div", "layer-panels");
  layersSection.append(layerPanels);
  const empty = element("p", "inside-empty", "Draw a digit to see inside the network.");
  body.append(empty, why, unitsSection, layersSection);

  let last = null; // the last result shown: { image, inside, digit }
  let outputKind = "softmax";
  let units = null; // { model, units, side, weights, tiles, panel } for the current model
  let model = "";
  let panelNodes = [];
  let numberMode = false;

  function isOpen() {
    return view.open;
  }

  function showWhy(result) {
    const gradient = result.inside.saliency;
    const mode = modes.querySelector("input:checked").value;
    const field = mode === "input" ? gradient.map((g, i) => g * result.image[i]) : gradient;
    paintSigned(whyCanvas, field, result.image);
    const d = result.inside.winner; // the network's own answer: the page's may be the kept drawings' (memory)
    whyText.textContent =
      mode === "input"
        ? `Input × gradient, x ⊙ ∂z${d}/∂x: the gradient kept only where you drew. ` +
          `Red ink speaks for ${d}, blue ink against it.`
        : `The gradient of the network's score for ${d} (z${d}, the output layer before its ${outputKind}) ` +
          `with respect to each pixel, ∂z${d}/∂x: red where more ink would raise it, blue where more ink would ` +
          `lower it; the stronger the colour, the larger the effect.`;
  }

  function buildPanels(panels) {
    layerPanels.replaceChildren();
    panelNodes = panels.map((panel, index) => {
      const node = element("figure", "layer-panel");
      const shape = panel.shape;
      const caption = element("figcaption");
      caption.append(element("strong", "", panel.title), ` — ${shape.join(" × ")}`);
      const cells = element("div", shape.length === 3 ? "maps" : "strip");
      let canvases;
      if (shape.length === 3) {
        const [h, w, c] = shape;
        canvases = Array.from({ length: c }, (_, k) => canvas(w, h, "map", `feature map ${k + 1} of ${c}`));
        cells.classList.toggle("small", h <= 12);
      } else {
        const columns = Math.min(shape[0], 32);
        const one = canvas(columns, Math.ceil(shape[0] / columns), "cells", `${shape[0]} activations`);
        one.style.aspectRatio = `${one.width} / ${one.height}`;
        one.style.width = `min(100%, ${columns * 18}px)`; // cells of at most 18 px
        canvases = [one];
        if (index === panels.length - 1 && shape[0] === 10) {
          const digits = element("div", "digits");
          for (let d = 0; d < 10; d++) digits.append(element("span", "", String(d)));
          digits.style.width = one.style.width; // one label under each cell
          cells.classList.add("output");
          cells.append(one, digits);
        }
      }
      if (!cells.children.length) cells.append(...canvases);
      node.append(caption, cells);
      layerPanels.append(node);
      return { node, shape, canvases };
    });
  }

  function showPanels(panels) {
    const same =
      panelNodes.length === panels.length && panels.every((p, i) => p.shape.join() === panelNodes[i].shape.join());
    if (!same) buildPanels(panels);
    panels.forEach((panel, i) => {
      const scale = greyScale(panel.values);
      const { shape, canvases } = panelNodes[i];
      const size = shape.length === 3 ? shape[0] * shape[1] : panel.values.length;
      canvases.forEach((target, k) => paintGrey(target, panel.values, k * size, scale));
    });
  }

  function buildUnits(data) {
    const tiles = [];
    const count = data.units;
    const size = data.side * data.side;
    for (let j = 0; j < count; j++) {
      const tile = element("div", "unit");
      const image = canvas(data.side, data.side, "unit-image", `neuron ${j}'s weights`);
      paintSigned(image, data.weights.subarray(j * size, (j + 1) * size), null);
      const bar = element("span", "unit-bar");
      bar.append(element("span", "unit-fill"));
      tile.append(image, bar);
      tiles.push(tile);
    }
    unitsGrid.replaceChildren(...tiles);
    const what = data.side === 28 ? "neuron of the first hidden layer" : `filter of the first convolution (${data.side} × ${data.side})`;
    unitsTitle.textContent = `What each ${what} looks for`;
    unitsNote.textContent =
      "Each tile is one unit's incoming weights (red positive, blue negative): the pattern of ink that excites it most. " +
      `Sorted by how strongly it responds to your drawing${data.side === 28 ? "" : " (its feature map's mean)"}; the bar shows that response.`;
    units = { ...data, tiles };
    unitsSection.hidden = false;
  }

  function showUnits(activation) {
    if (!units || !activation) return;
    let largest = 0;
    for (const v of activation) largest = Math.max(largest, Math.abs(v));
    const order = [...activation.keys()].sort((a, b) => activation[b] - activation[a]);
    for (const j of order) {
      const tile = units.tiles[j];
      tile.title = `unit ${j}: activation ${activation[j].toFixed(3)}`;
      tile.querySelector(".unit-fill").style.width = `${largest > 0 ? (100 * Math.max(0, activation[j])) / largest : 0}%`;
      unitsGrid.append(tile); // appending an attached node moves it: the grid ends up in order
    }
    unitsGrid.dataset.order = order.join(",");
  }

  function requestUnits() {
    if (units?.model === model) return;
    units = { model, pending: true };
    const asked = model;
    ask("inside-units").then((found) => {
      if (asked !== model) return; // another model since
      if (!found) {
        units = { model };
        unitsSection.hidden = true;
        return;
      }
      buildUnits({ ...found, model });
      if (last) showUnits(last.inside.unit_activation);
    }, () => {
      units = { model }; // shown without them; asked again for the next model
      unitsSection.hidden = true;
    });
  }

  view.addEventListener("toggle", () => {
    if (!view.open) return;
    requestUnits();
    onOpen();
  });

  return {
    isOpen,
    // a new model: its units and layers differ, and its answers will come anew
    modelChanged(name) {
      model = name;
      units = null;
      unitsGrid.replaceChildren();
      unitsSection.hidden = true;
      panelNodes = [];
      layerPanels.replaceChildren();
      this.clear();
      if (isOpen()) requestUnits();
    },
    show(result, kind) {
      if (!result.inside) return;
      const started = performance.now();
      last = result;
      outputKind = kind;
      empty.hidden = true;
      why.hidden = layersSection.hidden = false;
      showWhy(result);
      showPanels(result.inside.panels);
      showUnits(result.inside.unit_activation);
      view.dataset.strokes = String(result.strokes);
      view.dataset.winner = String(result.inside.winner);
      view.dataset.ms = (performance.now() - started).toFixed(2); // drawing it, on the page's thread
    },
    clear(number = numberMode) {
      numberMode = number;
      empty.textContent = number
        ? "It shows one digit: choose “One digit” and draw one."
        : "Draw a digit to see inside the network.";
      last = null;
      empty.hidden = false;
      why.hidden = layersSection.hidden = true;
      view.dataset.strokes = "0";
    },
    // the numbers last shown, as plain arrays: for tests and the curious
    latest() {
      if (!last) return null;
      const plain = (values) => Array.from(values);
      return {
        strokes: last.strokes,
        image: plain(last.image),
        winner: last.inside.winner,
        saliency: plain(last.inside.saliency),
        panels: last.inside.panels.map((p) => ({ title: p.title, shape: p.shape, values: plain(p.values) })),
        unit_activation: last.inside.unit_activation ? plain(last.inside.unit_activation) : null,
        unit_order: unitsGrid.dataset.order ? unitsGrid.dataset.order.split(",").map(Number) : null,
      };
    },
  };
}
