/*
 * Labelled samples: save the drawing (or uploaded picture) on the pad with a digit (buttons 0–9, or the digit keys
 * while the pad or those buttons have focus), then see this session's samples as a strip of thumbnails, newest
 * first, with counts per digit.
 *
 * The list mirrors GET /api/samples (loaded once, then kept up to date from each answer), so counts are always
 * worked out from it; until it has loaded, nothing can be deleted from it. Anything that fails leaves the drawing
 * and the list as they were and says why.
 * Other scripts hear about the number of samples through a "samples:change" event (detail.total) on #recognizer;
 * one that starts after the list may have loaded (or failed to) reads window.mnistsite.samples.total() first.
 * Clear all can delete the personal model too, through window.mnistsite.model (model.js). After "data:deleted"
 * (mydata.js deleted everything of this session) the list is empty.
 * In Number mode ("mode:change" on #recognizer, from number.js) the label buttons and digit keys give way to
 * number.js's own form, which adds the samples it saved here with window.mnistsite.samples.add().
 * Hints say which digits to draw next; how well each digit is read comes from training.js's "train:tested" event
 * (the last run's test on drawings it kept aside, for the model that reads now) where it has one.
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, pad, model } = window.mnistsite || {};
  if (!root || !api || !pad) return;

  const $ = (id) => document.getElementById(id);
  const url = root.dataset.samplesUrl;
  const ui = {
    extras: $("pad-extras"), save: $("label-save"), labels: Array.from($("label-buttons").children),
    status: $("save-status"),
    total: $("samples-total"), counts: Array.from($("sample-counts").children), strip: $("sample-strip"),
    empty: $("samples-empty"), actions: $("sample-actions"), undo: $("undo-save-button"),
    clearAll: $("clear-samples-button"), hints: $("coach-hints"),
  };
  // Under the label buttons; in Number mode, under the number's save button (the label buttons are hidden).
  const numberStatus = $("number-save-status");
  const showStatus = (...args) => api.statusLine(ui.save.hidden && numberStatus ? numberStatus : ui.status,
                                                 pad.announce)(...args);
  // Training's rule, from the server: from this many drawings of a digit, a run keeps some aside to test itself.
  const WANTED_PER_DIGIT = Number(root.dataset.holdoutMinPerDigit);
  const JUDGED_FROM = 3;          // saved readings of a digit that say how well it is read
  const MAX_HINTS = 3;
  const READ_RIGHT_ENOUGH = 0.8;  // below this share read right, more of that digit helps
  // As its thumbnail says: a drawing the model called no digit was not read right, whatever its best guess.
  const readRight = (sample) => sample.predicted === sample.label && sample.verdict !== "not_a_digit";

  let samples = [];               // newest first, as the API answers
  let savedHere = [];             // this page's saves, oldest first, each the ids it made: one, or a number's digits.
                                  // Undo takes back only these: never a sample saved on an earlier visit.
  let loaded = false;
  let failed = false;             // the first load failed, and no save has brought the list back yet
  let saving = false;
  let padEmpty = pad.isEmpty();
  let suggested = null;
  let tested = null;              // {digit: {count, right}} from "train:tested", or null
  let mode = "digit";             // "number" while number.js reads the pad: its form saves, not the label buttons

  /* ---------- Saving ---------- */

  async function save(label) {
    if (saving) return;
    const shot = pad.snapshot();
    if (!shot) {
      showStatus(pad.isDrawing() ? "Finish the stroke first, then pick its label."
                                 : "Draw a digit first, then pick its label.", "error");
      return;
    }
    saving = true;
    updateLabels();
    showStatus(`Saving as ${label}…`, "busy");
    const answer = await api.request(url, { method: "POST", body: { ...shot.fields, label } });
    saving = false;
    if (answer.ok && answer.data && typeof answer.data.id === "number") {
      pad.clearIfUnchanged(shot.revision);   // ready for the next drawing
      await add([answer.data]);
      showStatus(`Saved as ${label}`, "ok",
                 `Saved as ${label}. ${api.plural(samples.length, "sample")} saved.`);
    } else {
      showStatus(answer.error || api.NETWORK_ERROR, "error");
    }
    updateLabels();
  }

  /* Samples just saved (oldest first, as a number's digits come, left to right) put at the head of the list. */
  async function add(saved) {
    savedHere.push(saved.map((sample) => sample.id));
    if (!loaded) {
      await load();   // the list failed to load before: show what the server keeps, not just these
      return;
    }
    saved.forEach((sample) => {
      samples.unshift(sample);
      ui.strip.prepend(thumbnail(sample));
    });
    ui.strip.scrollLeft = 0;
    listChanged();
  }

  function updateLabels() {
    const disabled = padEmpty || saving;
    ui.labels.forEach((button) => {
      const digit = Number(button.dataset.label);
      button.setAttribute("aria-disabled", String(disabled));
      const isSuggested = !padEmpty && digit === suggested;
      button.classList.toggle("is-suggested", isSuggested);
      if (isSuggested) button.setAttribute("aria-describedby", "label-suggested");
      else button.removeAttribute("aria-describedby");
    });
  }



  /* ---------- The strip, counts and total ---------- */

  function thumbnail(sample) {
    const item = document.createElement("li");
    item.className = "thumb";
    item.dataset.id = String(sample.id);
    item.dataset.label = String(sample.label);
    const noDigit = sample.verdict === "not_a_digit";
    const right = readRight(sample);
    const known = typeof sample.predicted === "number";
    item.classList.add(!known ? "thumb--unknown" : right ? "thumb--right" : "thumb--wrong");

    const said = !known ? "it was not read by a model" : noDigit ? "the model said it is no digit"
      : right ? "the model read it right" : `the model said ${sample.predicted}`;
    item.dataset.said = said;
    const picture = document.createElement("img");
    picture.className = "thumb__image";
    picture.src = sample.image_url;   // its alt text and the delete button's name: name() in render()
    picture.width = 64;
    picture.height = 64;
    picture.loading = "lazy";
    picture.decoding = "async";

    // Shown compactly; the picture's alt text says the same in full.
    const caption = document.createElement("p");
    caption.className = "thumb__caption";
    caption.setAttribute("aria-hidden", "true");
    caption.title = `Labelled ${sample.label}; ${said}`;
    const label = document.createElement("span");
    label.className = "thumb__label";
    label.textContent = String(sample.label);
    const verdict = document.createElement("span");
    verdict.className = "thumb__verdict";
    verdict.textContent = !known ? "not read" : noDigit ? "✗ no digit" : right ? "✓ right"
      : `✗ said ${sample.predicted}`;
    caption.append(label, verdict);

    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "thumb__delete";
    remove.title = "Delete this sample";
    remove.textContent = "×";
    remove.addEventListener("click", () => deleteSample(sample.id));

    item.append(picture, caption, remove);
    return item;
  }

  function listChanged() {
    render();
    root.dispatchEvent(new CustomEvent("samples:change", { detail: { total: samples.length } }));
  }

  function render() {
    const total = samples.length;
    const counts = Array(10).fill(0);
    samples.forEach((sample) => { counts[sample.label] += 1; });
    ui.counts.forEach((item, digit) => {
      item.querySelector(".counts__n").textContent = String(counts[digit]);
      item.classList.toggle("is-zero", counts[digit] === 0);
      item.setAttribute("aria-label", `${digit}: ${counts[digit]}`);
    });
    showHints(hintsFor(counts));
    Array.from(ui.strip.children).forEach((item, index) => name(item, total - index));
    ui.total.textContent = total ? `${total} saved` : "None yet";
    ui.empty.hidden = total > 0;
    ui.strip.hidden = total === 0;
    // Only a list that mirrors the server may be cleared: "Delete all 1" must not delete 4 it never showed.
    ui.undo.setAttribute("aria-disabled", String(!undoable().length || !loaded));
    ui.clearAll.setAttribute("aria-disabled", String(total === 0 || !loaded));
  }

  /* ---------- Coaching: which drawings would help most, from this session's own samples ---------- */

  const plural = (digit) => `${digit}s`;

  function hintsFor(counts) {
    const hints = [];
    for (let digit = 0; digit < 10; digit += 1) {   // digits the model reads worst on this person's drawings
      const reading = howWellRead(digit);
      if (reading && reading.share < READ_RIGHT_ENOUGH) {
        const right = Math.round(100 * reading.share);
        hints.push({ rank: reading.share, text: `Your ${plural(digit)} are read right ${right} % of the time`
                                                + `${reading.source}: draw a few more ${plural(digit)}.` });
      }
    }
    hints.sort((a, b) => a.rank - b.rank);
    const missing = counts.map((n, digit) => (n === 0 ? digit : null)).filter((digit) => digit !== null);
    if (missing.length === 10) {
      hints.push({ text: `Draw each digit ${WANTED_PER_DIGIT} times: the model learns your handwriting from them.` });
    } else if (missing.length > MAX_HINTS) {
      const names = missing.map(plural);
      hints.push({ text: `No ${names.slice(0, -1).join(", ")} or ${names.at(-1)} yet: draw ${WANTED_PER_DIGIT} of each.` });
    } else {
      missing.forEach((digit) => hints.push({ text: `No ${plural(digit)} yet: draw ${WANTED_PER_DIGIT}.` }));
    }
    counts.forEach((n, digit) => {
      if (n > 0 && n < WANTED_PER_DIGIT) {
        const more = WANTED_PER_DIGIT - n;
        hints.push({ text: `Only ${n} ${n === 1 ? "sample" : "samples"} of ${digit}: draw ${more} more.` });
      }
    });
    if (!hints.length) {
      const known = samples.filter((sample) => typeof sample.predicted === "number");
      return [known.every(readRight)
        ? "Every digit is here and read right: train your model, or keep adding the ones it finds hard."
        : "Every digit is here, but not every drawing is read right (✗): train your model on them."];
    }
    return hints.slice(0, MAX_HINTS).map((hint) => hint.text);
  }

  /* The share of a digit's drawings read right: from the last run's test where it held that digit out (it measured
     the model that reads now, on drawings that model did not train on), else from the readings saved with the
     samples once there are enough of them. null when neither says. */
  function howWellRead(digit) {
    const test = tested && tested[digit];
    if (test && test.count > 0) {
      return { share: test.right / test.count,
               source: ` (${test.right} of ${test.count} in your last training's test)` };
    }
    const read = samples.filter((sample) => sample.label === digit && sample.predicted !== null);
    if (read.length < JUDGED_FROM) return null;
    return { share: read.filter(readRight).length / read.length, source: "" };
  }

  function showHints(texts) {
    const shown = Array.from(ui.hints.children).map((item) => item.textContent);
    if (shown.join("\n") === texts.join("\n")) return;   // unchanged: screen readers hear nothing new
    ui.hints.replaceChildren(...texts.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
  }

  function forget(ids) {
    const gone = new Set(ids);
    samples = samples.filter((sample) => !gone.has(sample.id));
    ids.forEach((id) => { const item = itemFor(id); if (item) item.remove(); });
    listChanged();
  }

  const itemFor = (id) => ui.strip.querySelector(`.thumb[data-id="${id}"]`);

  /* A thumbnail in words a person uses, not the database's: "Your 7, saved 2nd; the model said 1". nth counts this
     session's samples from the oldest, as they are now. */
  function name(item, nth) {
    const { label, said } = item.dataset;
    item.querySelector(".thumb__image").alt = `Your ${label}, saved ${ordinal(nth)}; ${said}`;
    item.querySelector(".thumb__delete").setAttribute("aria-label", `Delete your ${label} saved ${ordinal(nth)}`);
  }

  function ordinal(n) {
    const ending = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
    return `${n}${ending}`;
  }

  /* The ids of this page's latest save still on the list (deleted one by one, or elsewhere, they drop out). */
  function undoable() {
    while (savedHere.length) {
      const kept = savedHere.at(-1).filter((id) => itemFor(id));
      if (kept.length) return kept;
      savedHere.pop();
    }
    return [];
  }

  /* ---------- Deleting ---------- */

  async function deleteSample(id, { undoing = false } = {}) {
    const item = itemFor(id);
    if (!item || item.classList.contains("is-busy")) return;
    const label = item.dataset.label;
    const hadFocus = item.contains(document.activeElement);
    item.classList.add("is-busy");
    const answer = await api.request(`${url}/${id}`, { method: "DELETE" });
    item.classList.remove("is-busy");
    // 404: it is already gone (another tab, or staff); the strip should agree.
    if (!answer.ok && answer.status !== 404) {
      showStatus(answer.error, "error");
      return;
    }
    const next = item.nextElementSibling || item.previousElementSibling;
    forget([id]);
    if (hadFocus) (next ? next.querySelector(".thumb__delete") : document.getElementById("pad-canvas")).focus();
    const text = `${undoing ? "Undid the last save" : "Deleted a sample"} (label ${label}).`;
    showStatus(text, "ok");
  }

  /* Undo takes back the whole of the last save: one drawing, or every digit of a number. */
  async function undoLastSave() {
    const ids = undoable();
    if (ids.length <= 1) {
      if (ids.length) await deleteSample(ids[0], { undoing: true });
      return;
    }
    const labels = ids.map((id) => itemFor(id).dataset.label);
    for (const id of ids) {
      const answer = await api.request(`${url}/${id}`, { method: "DELETE" });
      if (!answer.ok && answer.status !== 404) {
        showStatus(answer.error, "error");
        return;
      }
      forget([id]);
    }
    showStatus(`Undid the last save: ${ids.length} samples (labels ${labels.join(", ")}).`, "ok");
  }

  /* Clear all asks first, inline; with a personal model, it offers to delete that too (it learnt from them). */
  function askToClearAll() {
    if (!samples.length) return;
    const personal = model ? model.state().personal : null;
    const alsoModel = document.createElement("input");
    alsoModel.type = "checkbox";
    alsoModel.id = "clear-model-too";
    const extra = [];
    if (personal) {
      const label = document.createElement("label");
      label.className = "confirm__option";
      label.htmlFor = alsoModel.id;
      label.append(alsoModel, ` Also delete ${model.yours(personal).toLowerCase()}, which learnt from them`);
      extra.push(label);
    }
    api.askInline({
      into: ui.actions, id: "clear-confirm-text", yes: "Delete all", extra, hide: [ui.clearAll, ui.undo],
      question: `Delete all ${api.plural(samples.length, "sample")}? This cannot be undone.`,
      act: async () => {
        const answer = await api.request(url, { method: "DELETE" });
        if (!answer.ok) {
          showStatus(answer.error, "error");
          return false;
        }
        forget(samples.map((sample) => sample.id));
        if (!(personal && alsoModel.checked)) {
          showStatus("Deleted all your samples.", "ok");
          return true;
        }
        const deleted = await model.deletePersonal();
        if (deleted.ok) showStatus("Deleted all your samples and your model.", "ok");
        else showStatus(`Deleted all your samples, but not your model: ${deleted.error}`, "error");
        return true;
      },
    });
  }

  /* ---------- Loading, keyboard and buttons ---------- */

  /* Loaded once at start, and again after a save if that first load failed or has not answered yet: then only
     the newest load's answer counts, since an older one may predate the save. */
  let loads = 0;
  async function load() {
    loads += 1;
    const mine = loads;
    const answer = await api.request(url);
    if (mine !== loads) return;
    if (answer.ok && answer.data && Array.isArray(answer.data.samples)) {
      samples = answer.data.samples;
      ui.strip.replaceChildren(...samples.map(thumbnail));
      loaded = true;
      failed = false;
      listChanged();
    } else {
      failed = true;
      showStatus(`Your saved samples could not be loaded: ${answer.error || api.NETWORK_ERROR}`, "error");
      root.dispatchEvent(new CustomEvent("samples:change", { detail: { total: null } }));
    }
  }

  function onKeyDown(event) {
    if (event.defaultPrevented || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    if (!/^[0-9]$/.test(event.key || "")) return;
    if (mode !== "digit" || !api.isShortcut(event)) return;
    event.preventDefault();
    save(Number(event.key));
  }

  ui.labels.forEach((button) => {
    button.addEventListener("click", api.onButton(() => save(Number(button.dataset.label))));
  });
  ui.undo.addEventListener("click", api.onButton(undoLastSave));
  ui.clearAll.addEventListener("click", api.onButton(askToClearAll));
  root.addEventListener("pad:change", (event) => {
    padEmpty = event.detail.empty;
    if (padEmpty) suggested = null;
    updateLabels();
  });
  root.addEventListener("pad:state", (event) => {
    // A drawing the model calls no digit suggests no label: the person says what it is.
    suggested = event.detail.verdict === "not_a_digit" ? null : event.detail.digit;
    updateLabels();
  });
  root.addEventListener("mode:change", (event) => {
    mode = event.detail.mode;
    ui.save.hidden = mode !== "digit";
  });
  root.addEventListener("train:tested", (event) => {
    tested = event.detail.digits;
    render();
  });
  root.addEventListener("data:deleted", () => {   // mydata.js deleted everything of this session
    loads += 1;   // a load still on its way read the list before the deletion
    samples = [];
    savedHere = [];
    loaded = true;
    failed = false;
    ui.strip.replaceChildren();
    listChanged();
  });
  document.addEventListener("keydown", onKeyDown);

  /* As samples:change says it: a number once loaded, null when loading failed, undefined until then. */
  window.mnistsite.samples = { total: () => (loaded ? samples.length : failed ? null : undefined), add };
  ui.extras.hidden = false;
  $("pad-save").hidden = false;
  updateLabels();
  render();
  load().finally(() => { root.dataset.samplesReady = String(loaded); });
})();
