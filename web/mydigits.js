// "Teach it your handwriting": labelled drawings kept on this device (IndexedDB), the "My digits"
// panel (counts, the 28 × 28 images, delete, export, import), the recogniser's memory of them (a kept
// drawing counts at once, digitnet.memory) and adapting the selected model in a second worker.
// Nothing leaves the device: files are exported and imported by the person.

import { messenger } from "./messenger.js";

const FORMAT = "digitnet-strokes";
const ADAPTED = "adapted:"; // option values of adapted models: "adapted:" + the base model's file
const TRAINED = "trained:"; // option values (and keys) of models trained in the page (train.js): "trained:" + set-up
const MIN_SAMPLES = 10;
const SEED = 0; // the page's adaptation seed; `digitnet adapt` uses the same by default

const $ = (id) => document.getElementById(id);

// --- IndexedDB

function openStore() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("digitnet", 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("samples", { keyPath: "id", autoIncrement: true });
      request.result.createObjectStore("models", { keyPath: "base" });
      request.result.createObjectStore("settings");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function transact(db, store, mode, work) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const result = work(tx.objectStore(store));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : result);
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

// --- the strokes file

// A sample's identity: the same drawing with the same label is one sample, whenever it was kept.
const keyOf = (s) => JSON.stringify([s.label, s.strokes, s.canvas]);

function toEntry(sample) {
  const entry = { label: sample.label, strokes: sample.strokes, canvas: sample.canvas };
  for (const name of ["model", "answer", "time"]) if (sample[name] != null) entry[name] = sample[name];
  return entry;
}

// The same text digitnet.strokesfile.dump_strokes writes: one sample per line.
function strokesFile(samples) {
  const lines = samples.map((s) => JSON.stringify(toEntry(s))).join(",\n");
  return `{"format": "${FORMAT}", "version": 1, "samples": [\n${lines}\n]}\n`;
}

function download(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// --- the panel

export function createMyDigits(page) {
  const state = { db: null, samples: [], adapted: new Map(), job: null };
  const status = (text) => ($("mydigits-status").textContent = text);

  // --- labelling

  const buttons = $("label-buttons");
  for (let digit = 0; digit < 10; digit++) {
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: String(digit) });
    button.dataset.digit = String(digit);
    button.title = `It's a ${digit}: keep this drawing with that label (key ${digit})`;
    button.addEventListener("click", () => keep(digit));
    buttons.appendChild(button);
  }
  $("confirm").addEventListener("click", () => keep(null));
  page.pad.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[0-9]$/.test(event.key)) keep(Number(event.key));
    else if (event.key === "Enter") keep(null);
    else return;
    event.preventDefault();
  });

  // --- the recogniser's memory

  // Tell the recogniser's memory what is kept; body data-memory is how many drawings it reads with.
  async function teach(message) {
    try {
      const reply = await page.memory(message);
      document.body.dataset.memory = String(reply.size);
      return reply;
    } catch (error) {
      status(`Your drawings are kept, but the recogniser could not take them in: ${error.message}.`);
      return null;
    }
  }

  const memorise = (samples) => ({ text: strokesFile(samples), ids: samples.map((s) => s.id) });

  // Keep the drawing, or a number's selected digit, with the label pressed (null: ✓, the answer's).
  async function keep(label) {
    const asked = performance.now();
    const drawing = page.drawing();
    const shown = page.answer(); // { digit, image, strokes? }, { refused }, { picture } or null
    if (shown?.picture) return status("Only drawings can be kept, not pictures.");
    if (!drawing.strokes.length) return status("Draw a digit first, then say which it is.");
    if (!shown) return status("Wait for the answer, then say which digit it is.");
    if (shown.refused) return status("This mark cannot be kept: the reader found no digit in it.");
    if (shown.notDigit && label === null) return status("It was read as no digit: press the digit it is, to keep it.");
    const strokes = shown.strokes ? shown.strokes.map((i) => drawing.strokes[i]) : drawing.strokes;
    const sample = {
      label: label ?? shown.digit,
      strokes: strokes.map((s) => s.map(([x, y]) => [x, y])),
      canvas: drawing.canvas,
      model: page.modelSelect.value,
      answer: shown.digit,
      time: new Date().toISOString(),
      image: shown.image.map((v) => Math.round(255 * v)),
    };
    if (state.samples.some((s) => keyOf(s) === keyOf(sample))) return status("This drawing is already kept.");
    sample.id = await transact(state.db, "samples", "readwrite", (store) => store.add(sample));
    state.samples.push(sample);
    // sent before the pad is cleared, so the next drawing is read with it
    teach({ change: "remember", ...memorise([sample]) }).then((reply) => {
      if (reply) document.body.dataset.memoryMs = (performance.now() - asked).toFixed(1); // kept → in use
    });
    page.next();
    const verdict = sample.answer === sample.label ? "right" : `read as ${sample.answer}`;
    const n = state.samples.length;
    const kept = `${sample.label === 8 ? "an" : "a"} ${sample.label}`;
    status(`Kept ${kept} (${verdict}). ${n} drawing${n === 1 ? "" : "s"} kept.`);
    render();
  }

  // --- showing the samples

  function render() {
    const counts = new Array(10).fill(0);
    for (const s of state.samples) counts[s.label] += 1;
    document.body.dataset.samples = String(state.samples.length);
    $("digit-counts").replaceChildren(
      ...counts.map((n, digit) => Object.assign(document.createElement("li"), { textContent: `${digit}: ${n}` })),
    );
    const grid = $("samples");
    grid.replaceChildren(...state.samples.map(thumbnail));
    const n = state.samples.length;
    $("export").disabled = $("delete-all").disabled = n === 0;
    $("mydigits-summary").textContent = n
      ? `${n} drawing${n === 1 ? "" : "s"} kept on this device.`
      : "None yet: draw a digit, then press the digit it is (or ✓ when the answer is right).";
    updateAdaptButton();
  }

  function thumbnail(sample) {
    const item = document.createElement("figure");
    const canvas = Object.assign(document.createElement("canvas"), { width: 28, height: 28 });
    canvas.setAttribute("aria-label", `a ${sample.label}, as the network saw it`);
    if (sample.image) {
      const context = canvas.getContext("2d");
      const pixels = context.createImageData(28, 28);
      sample.image.forEach((v, i) => pixels.data.set([v, v, v, 255], 4 * i));
      context.putImageData(pixels, 0, 0);
    }
    const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "×" });
    remove.title = `Delete this ${sample.label}`;
    remove.addEventListener("click", () => deleteSamples([sample]));
    const caption = Object.assign(document.createElement("figcaption"), { textContent: String(sample.label) });
    item.append(canvas, caption, remove);
    return item;
  }

  async function deleteSamples(samples) {
    await transact(state.db, "samples", "readwrite", (store) => samples.forEach((s) => store.delete(s.id)));
    const gone = new Set(samples.map((s) => s.id));
    state.samples = state.samples.filter((s) => !gone.has(s.id));
    teach({ change: "forget", ids: [...gone] });
    status(`Deleted ${samples.length} drawing${samples.length === 1 ? "" : "s"}.`);
    render();
  }

  $("delete-all").addEventListener("click", () => {
    if (state.samples.length && confirm(`Delete all ${state.samples.length} kept drawings from this device?`)) {
      deleteSamples([...state.samples]);
    }
  });

  // --- export and import

  $("export").addEventListener("click", () => download(strokesFile(state.samples), "my-digits.digitnet-strokes.json"));

  $("import").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    status(`Reading ${file.name}…`);
    try {
      const read = await adapter.ask("read", { text: await file.text() });
      const incoming = JSON.parse(read.text).samples;
      const known = new Set(state.samples.map(keyOf));
      const fresh = [];
      incoming.forEach((entry, i) => {
        const key = keyOf(entry);
        if (known.has(key)) return;
        known.add(key);
        fresh.push({ answer: null, model: null, time: null, ...entry, image: read.images[i] });
      });
      const ids = await transact(state.db, "samples", "readwrite", (store) => fresh.map((s) => store.add(s)));
      fresh.forEach((s, i) => (s.id = ids[i].result));
      state.samples.push(...fresh);
      if (fresh.length) teach({ change: "remember", ...memorise(fresh) });
      const skipped = incoming.length - fresh.length;
      status(`Imported ${fresh.length} drawing${fresh.length === 1 ? "" : "s"} from ${file.name}` +
        (skipped ? `; ${skipped} already kept ${skipped === 1 ? "was" : "were"} skipped.` : "."));
      render();
    } catch (error) {
      status(`Could not import ${file.name}: ${error.message}. Your kept drawings are unchanged.`);
    }
  });

  // --- the adapting worker

  const adapter = messenger(() => new Worker("adapt-worker.js", { type: "module" }));

  // --- adapting

  const baseOf = (value) => (value.startsWith(ADAPTED) ? value.slice(ADAPTED.length) : value);

  function updateAdaptButton() {
    const enough = state.samples.length >= MIN_SAMPLES;
    $("adapt").disabled = !enough || state.job !== null || (page.modelSelect.value || "").startsWith(TRAINED);
    $("adapt").title = enough ? "" : `Keep at least ${MIN_SAMPLES} drawings first (${state.samples.length} so far).`;
    const value = page.modelSelect.value || "";
    const adapted = value.startsWith(TRAINED) ? null : state.adapted.get(baseOf(value));
    $("adapted-actions").hidden = !adapted;
    $("use-original").disabled = !value.startsWith(ADAPTED);
  }

  $("adapt").addEventListener("click", async () => {
    const base = baseOf(page.modelSelect.value);
    const bar = $("adapt-progress");
    const line = $("adapt-status");
    state.job = { base };
    const clicked = performance.now();
    bar.hidden = $("adapt-cancel").hidden = false;
    bar.value = 0;
    document.body.dataset.adapt = "running";
    line.textContent = `Adapting ${base.replace(/\.json$/, "")} to your ${state.samples.length} drawings…`;
    updateAdaptButton();
    try {
      const asked = { modelUrl: page.modelUrl(base), name: base, samples: strokesFile(state.samples), seed: SEED };
      const onProgress = ({ fraction, what }) => {
        bar.value = fraction;
        line.textContent = `Adapting: ${what}… ${Math.round(100 * fraction)} %`;
      };
      const result = await adapter.ask("adapt", asked, { onProgress });
      const report = result.report;
      const wall = (performance.now() - clicked) / 1000; // the worker's start and the files' fetch included
      line.dataset.report = JSON.stringify({ ...report, worker_seconds: result.seconds, wall_seconds: wall });
      const figures =
        `Your drawings (held back): ${report.person_before.toFixed(1)} % → ${report.person_after.toFixed(1)} %; ` +
        `MNIST holdout: ${report.holdout_before.toFixed(1)} % → ${report.holdout_after.toFixed(1)} % ` +
        `(${wall.toFixed(1)} s).`;
      if (!report.accepted) {
        line.textContent = `${figures} Not used: ${report.reason}.`;
        document.body.dataset.adapt = "refused";
        return;
      }
      const record = { base, text: result.model, report, time: new Date().toISOString() };
      await transact(state.db, "models", "readwrite", (store) => store.put(record));
      state.adapted.set(base, record);
      addOption(base);
      page.modelSelect.value = ADAPTED + base;
      remember(page.modelSelect.value);
      page.select();
      line.textContent = `${figures} Now using ${base.replace(/\.json$/, "")} · adapted to you.`;
      document.body.dataset.adapt = "done";
    } catch (error) {
      line.textContent = error.cancelled ? "Cancelled: the model is unchanged." : `Could not adapt: ${error.message}`;
      document.body.dataset.adapt = error.cancelled ? "cancelled" : "error";
    } finally {
      state.job = null;
      bar.hidden = $("adapt-cancel").hidden = true;
      updateAdaptButton();
    }
  });

  $("adapt-cancel").addEventListener("click", () => {
    // a busy worker cannot read a message: end it; a new one starts when needed
    adapter.stop(Object.assign(new Error("cancelled"), { cancelled: true }));
  });

  // --- adapted models

  function addOption(base) {
    if (base.startsWith(TRAINED)) return addTrainedOption(base);
    const value = ADAPTED + base;
    if ([...page.modelSelect.options].some((o) => o.value === value)) return;
    const original = [...page.modelSelect.options].find((o) => o.value === base);
    const option = new Option(`${base.replace(/\.json$/, "")} · adapted to you`, value);
    option.title = "This model, fine-tuned on the drawings kept on this device";
    page.modelSelect.add(option, original ? original.nextSibling : null);
  }

  $("use-original").addEventListener("click", () => {
    page.modelSelect.value = baseOf(page.modelSelect.value);
    remember(page.modelSelect.value);
    page.select();
  });

  $("delete-adapted").addEventListener("click", async () => {
    const base = baseOf(page.modelSelect.value);
    await transact(state.db, "models", "readwrite", (store) => store.delete(base));
    state.adapted.delete(base);
    [...page.modelSelect.options].find((o) => o.value === ADAPTED + base)?.remove();
    page.modelSelect.value = base;
    remember(base);
    page.select();
    $("adapt-status").textContent = "The adapted model was deleted.";
  });

  $("download-adapted").addEventListener("click", () => {
    const base = baseOf(page.modelSelect.value);
    const record = state.adapted.get(base);
    if (record) download(record.text, `${base.replace(/\.json$/, "")}-adapted.json`);
  });

  function remember(value) {
    transact(state.db, "settings", "readwrite", (store) => store.put(value, "model")).catch(() => {});
  }

  page.modelSelect.addEventListener("change", () => {
    remember(page.modelSelect.value);
    updateAdaptButton();
  });

  // --- models trained in the page (train.js)

  // Kept beside the adapted models (store "models", key "trained:" + set-up) and offered in the selector
  // as "… · trained here". train.js asks by a "digitnet-trained" event whose detail names the action
  // ("keep" { name, text, report }, "use" / "forget" { name }, "list"); detail.done is then a promise of it.
  function addTrainedOption(base) {
    if ([...page.modelSelect.options].some((o) => o.value === base)) return;
    const option = new Option(`${base.slice(TRAINED.length)} · trained here`, base);
    option.title = "A network of the book, trained from scratch in this browser";
    page.modelSelect.add(option);
  }

  function useModel(value) {
    page.modelSelect.value = value;
    remember(value);
    page.select();
  }

  document.addEventListener("digitnet-trained", (event) => {
    const { action, name, text, report } = event.detail;
    const base = TRAINED + name;
    event.detail.done = started.then(async () => {
      if (action === "list") return [...state.adapted.values()].filter((r) => r.base.startsWith(TRAINED));
      if (action === "keep") {
        const record = { base, text, report, time: new Date().toISOString() };
        await transact(state.db, "models", "readwrite", (store) => store.put(record));
        state.adapted.set(base, record);
        addTrainedOption(base);
        useModel(base);
      } else if (action === "use" && state.adapted.has(base)) {
        useModel(base);
      } else if (action === "forget") {
        await transact(state.db, "models", "readwrite", (store) => store.delete(base));
        state.adapted.delete(base);
        const selected = page.modelSelect.value === base;
        [...page.modelSelect.options].find((o) => o.value === base)?.remove();
        if (selected) useModel(page.modelSelect.options[0].value);
      }
      return state.adapted.get(base) ?? null;
    });
  });

  // --- start

  const started = (async () => {
    state.db = await openStore();
    state.samples = await transact(state.db, "samples", "readonly", (store) => store.getAll());
    teach({ change: "replace", ...memorise(state.samples) }); // the memory, rebuilt from what is kept
    for (const record of await transact(state.db, "models", "readonly", (store) => store.getAll())) {
      state.adapted.set(record.base, record);
    }
    render();
    return transact(state.db, "settings", "readonly", (store) => store.get("model"));
  })();

  started.catch((error) => status(`Drawings cannot be kept in this browser: ${error.message}.`));
  document.body.dataset.mydigits = "loading";

  return {
    // Called once the model list is in the selector: add the adapted models, and go back to the
    // model in use before the page was reloaded (unless the address names one).
    async modelsListed(addressNamesModel) {
      const chosen = await started.catch(() => null);
      for (const base of state.adapted.keys()) addOption(base);
      document.body.dataset.mydigits = "ready";
      updateAdaptButton();
      if (!addressNamesModel && chosen && chosen !== page.modelSelect.value &&
          [...page.modelSelect.options].some((o) => o.value === chosen)) {
        page.modelSelect.value = chosen;
        return true;
      }
      return false;
    },
    // The text of an adapted model (undefined for a model file of the site).
    modelText: (value) =>
      value.startsWith(TRAINED)
        ? state.adapted.get(value)?.text
        : value.startsWith(ADAPTED)
          ? state.adapted.get(baseOf(value))?.text
          : undefined,
    // The model in the selector changed: remember it for the next visit.
    modelChanged() {
      remember(page.modelSelect.value);
      updateAdaptButton();
    },
    // Called once a model is loaded: the kept drawings its memory reads with (digitnet.webapp.memory_state).
    modelReady(memory) {
      document.body.dataset.memory = String(memory.size);
    },
  };
}
