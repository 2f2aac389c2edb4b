/*
 * Number mode: a whole number written on a wide pad, its digits side by side, read by POST /api/read.
 *
 * The Digit / Number switch (aria-pressed buttons) sets #recognizer's data-mode, which the stylesheet turns into the
 * pad's shape, and hands pad.js this script's reader (pad.setReader), which clears the pad. The choice is kept in
 * localStorage, so a reload comes back to it. Each reading shows each digit's box over the drawing with what it was
 * read as and how sure, the number (or why there is none: a piece that is no digit, digits that touch) and each
 * digit in the result panel, and is said through the page's announcer as the digit pad's answers are.
 * Each digit's verdict is worded by wording.js, briefly (it is one of several): "Unsure — could also be 8".
 *
 * Saving: one small box per digit read, prefilled with the reading, for the person to confirm or correct (typing a
 * digit moves on to the next box, arrows move between them, Enter saves). A box holds the newest reading until the
 * person types in it (pad.js shows only answers about the drawing as it is now); Save sends exactly what the boxes
 * show, and only for the reading of the drawing on the pad. POST /api/samples/number keeps each digit
 * as its own labelled sample, and samples.js adds them to the strip (window.mnistsite.samples.add). Other scripts
 * hear of the mode through a "mode:change" event on #recognizer (detail.mode: "digit" or "number").
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, pad, samples, wording } = window.mnistsite || {};
  if (!root || !api || !pad || !wording) return;

  const STORAGE_KEY = "mnistsite.mode";
  const PAD_LABEL = "Drawing pad, wide. Write a number with a mouse, finger or pen: its digits side by side, "
    + "with a small gap between them.";
  const $ = (id) => document.getElementById(id);
  const ui = {
    switcher: $("mode-switch"), options: Array.from($("mode-switch").querySelectorAll("[data-mode]")),
    canvas: $("pad-canvas"), boxes: $("pad-boxes"),
    body: $("number-body"), label: $("number-label"), value: $("number-value"), reason: $("number-reason"),
    digits: $("number-digits"),
    form: $("number-save"), inputs: $("number-save-digits"), empty: $("number-save-empty"),
    status: $("number-save-status"), button: saveButton(),
  };
  const { percent, plural } = api;
  const { notADigit } = wording;
  const BRIEF = { brief: true };   // a number's digit is worded briefly: "Unsure — could also be 8"
  const showStatus = api.statusLine(ui.status, pad.announce);

  /* Made here and put in the form only in Number mode: a hidden button would still count among the pad's. */
  function saveButton() {
    const button = document.createElement("button");
    Object.assign(button, { type: "button", className: "button button--primary number-save__button",
                            id: "number-save-button", textContent: "Save the digits" });
    button.setAttribute("aria-describedby", "number-save-hint");
    return button;
  }

  let mode = "digit";
  let reading = null;             // the answer on show: {revision (of the drawing it read), digits}
  let saving = false;

  /* ---------- The reading ---------- */

  /* Fills the panel, the boxes on the pad and the form; tells result.js what to show in the pad's head and to say. */
  function showReading(data) {
    const { digits } = data;
    const known = typeof data.number === "string";
    const seen = digits.map((digit) => (notADigit(digit) ? "?" : String(digit.digit))).join("");
    reading = { revision: pad.revision(), digits };   // pad.js shows only answers about the pad as it is now
    ui.body.dataset.complete = String(known);
    ui.label.textContent = known ? "The number" : "No number yet";
    ui.value.textContent = known ? data.number : seen;
    ui.reason.textContent = data.reason || "";
    ui.reason.hidden = !data.reason;
    ui.digits.replaceChildren(...digits.map(digitItem));
    showBoxes(digits);
    fillForm(digits);
    const count = digits.length === 1 ? "One digit" : `${digits.length} digits`;
    const each = `${count}: ${digits.map((digit) => wording.said(digit, BRIEF)).join("; ")}.`;
    const why = data.reason ? ` ${data.reason}` : "";
    return {
      digit: null, verdict: null,
      guess: known ? `Reads ${data.number}${data.touching ? "?" : ""}` : `Not a number? ${seen}`,
      spoken: known ? `Reads ${data.number}. ${each}${why}` : `No number.${why} ${each}`,
    };
  }

  /* One digit in the result panel: the 28x28 the network saw, the digit, its confidence and verdict. */
  function digitItem(digit, index, all) {
    const item = document.createElement("li");
    item.className = "number-digit";
    item.dataset.verdict = digit.verdict;
    const place = Object.assign(document.createElement("span"), {
      className: "visually-hidden", textContent: `Digit ${index + 1} of ${all.length}: `,
    });
    const image = Object.assign(document.createElement("img"), {
      className: "number-digit__image", src: digit.preprocessed, width: 56, height: 56,
      alt: "", decoding: "async",   // what the network saw: the digit and its words say what it made of it
    });
    const value = Object.assign(document.createElement("span"), {
      className: "number-digit__value", textContent: notADigit(digit) ? "?" : String(digit.digit),
    });
    const confidence = Object.assign(document.createElement("span"), {
      className: "number-digit__confidence", textContent: percent(digit.confidence),
    });
    const meter = document.createElement("meter");
    Object.assign(meter, { className: "confidence-meter number-digit__meter", min: 0, max: 1, low: 0.75, high: 0.9,
                           optimum: 1, value: digit.confidence });
    meter.setAttribute("aria-label", `Confidence in digit ${index + 1}`);
    const verdict = Object.assign(document.createElement("span"), {
      className: "number-digit__verdict", textContent: wording.verdict(digit, BRIEF),
    });
    item.append(place, image, value, confidence, meter, verdict);
    return item;
  }

  /* Each digit's box over the drawing, with what it was read as and how sure in a tag above it (in the pad's margin
     when the ink reaches the top). */
  function showBoxes(digits) {
    ui.boxes.classList.remove("is-stale");
    ui.boxes.replaceChildren(...digits.map((digit) => {
      const place = pad.placeBox(digit.box);
      const box = document.createElement("div");
      box.className = "pad__box";
      box.dataset.verdict = digit.verdict;
      box.classList.toggle("is-touching", Boolean(digit.touching));
      box.style.left = `${place.left * 100}%`;
      box.style.top = `${place.top * 100}%`;
      box.style.width = `${place.width * 100}%`;
      box.style.height = `${place.height * 100}%`;
      const tag = document.createElement("span");
      tag.className = "pad__tag";
      tag.textContent = notADigit(digit) ? "no digit?"
        : `${digit.digit}${digit.verdict === "unsure" ? "?" : ""} · ${percent(digit.confidence)}`;
      box.append(tag);
      return box;
    }));
  }

  function clearReading() {
    reading = null;
    ui.boxes.replaceChildren();
    fillForm([]);
  }

  const numberReader = {
    name: "number", url: root.dataset.readUrl, label: PAD_LABEL, body: ui.body,
    accepts: (data) => Array.isArray(data.digits) && data.digits.length > 0,
    show: showReading,
  };

  /* ---------- Confirming or correcting each digit, then saving ---------- */

  const inputs = () => Array.from(ui.inputs.querySelectorAll("input"));

  let formDigits = [];            // the digits read that the form's boxes were made for, in the same order

  /*
   * One box per digit read, prefilled with what it was read as. What the person typed stays with the digit they
   * typed it for, through every later reading: of the same drawing (another model), or of the drawing with strokes
   * added or undone. Positions are not enough once the number of digits changes (a digit added in front moves the
   * others along, two digits may merge), so a typed value follows the digit's box instead: it stays for the digit
   * read at the same place (each box's centre inside the other), and goes with its digit when none is read there.
   * A prefilled value is never kept: the newest reading replaces it.
   */
  function fillForm(digits) {
    const typed = inputs().flatMap((input, index) => (input.dataset.typed
      ? [{ box: formDigits[index].box, value: input.value }] : []));
    formDigits = digits;
    ui.inputs.replaceChildren(...digits.map((digit, index) => {
      const kept = typed.find((entry) => samePlace(entry.box, digit.box));
      return labelBox(digit, index, digits.length, kept ? kept.value : null);
    }));
    ui.empty.hidden = digits.length > 0;
    ui.inputs.hidden = digits.length === 0;
    updateForm();
  }

  /* Whether two boxes ([x, y, width, height] in the image sent) frame the same digit: each centre inside the other. */
  function samePlace(a, b) {
    const inside = ([x, y, width, height], [cx, cy]) => cx >= x && cx <= x + width && cy >= y && cy <= y + height;
    const centre = ([x, y, width, height]) => [x + width / 2, y + height / 2];
    return inside(a, centre(b)) && inside(b, centre(a));
  }

  /* A digit's box, prefilled with its reading or, with `value`, holding what the person typed for it. */
  function labelBox(digit, index, count, value) {
    const read = notADigit(digit) ? "" : String(digit.digit);
    const wrap = document.createElement("div");
    wrap.className = "number-save__digit";
    const input = document.createElement("input");
    Object.assign(input, {
      type: "text", inputMode: "numeric", maxLength: 1, autocomplete: "off", spellcheck: false,
      className: "number-save__input", value: value === null ? read : value,
    });
    input.dataset.read = read;
    if (value !== null) input.dataset.typed = "true";
    input.setAttribute("pattern", "[0-9]");
    input.setAttribute("aria-label", `Digit ${index + 1} of ${count}`);
    const caption = document.createElement("span");
    caption.className = "number-save__read";
    caption.id = `number-save-read-${index}`;
    const [said, how] = notADigit(digit) ? ["no digit?", ""] : [`read ${digit.digit}`, percent(digit.confidence)];
    caption.append(Object.assign(document.createElement("span"), { textContent: said }),
                   Object.assign(document.createElement("span"), { textContent: how ? ` ${how}` : "" }));
    input.setAttribute("aria-describedby", caption.id);
    wrap.append(input, caption);
    markCorrected(input);
    return wrap;
  }

  function markCorrected(input) {
    input.classList.toggle("is-corrected", input.value !== input.dataset.read);
  }

  function updateForm() {
    const count = inputs().length;
    ui.button.setAttribute("aria-disabled", String(saving || count === 0));
    ui.button.textContent = count ? `Save ${plural(count, "digit")} as samples` : "Save the digits";
  }

  function focusBox(index) {
    const box = inputs()[index];
    if (box) {
      box.focus();
      box.select();
    }
  }

  /* Typing a digit replaces the box's and moves on; anything else typed is dropped. */
  function onInput(event) {
    const input = event.target;
    const typed = input.value.replace(/[^0-9]/g, "");
    input.value = typed.slice(-1);
    input.dataset.typed = "true";   // the person's from now on: no later reading replaces it
    markCorrected(input);
    if (input.value) focusBox(inputs().indexOf(input) + 1);
  }

  function onFormKey(event) {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || event.isComposing) return;
    const index = inputs().indexOf(input);
    let handled = true;
    if (event.key === "Enter") save();
    else if (event.key === "ArrowLeft") focusBox(index - 1);
    else if (event.key === "ArrowRight") focusBox(index + 1);
    else if (event.key === "Backspace" && !input.value) focusBox(index - 1);
    else handled = false;
    if (handled) event.preventDefault();
  }



  async function save() {
    if (saving) return;
    const shot = pad.snapshot();
    if (!shot) {
      showStatus(pad.isDrawing() ? "Finish the stroke first, then save the digits."
                                 : "Write a number first, then save its digits.", "error");
      return;
    }
    if (!reading || reading.revision !== shot.revision) {
      showStatus("Wait for the reading of the drawing, then check its digits.", "error");
      return;
    }
    const boxes = inputs();
    const missing = boxes.findIndex((input) => !/^[0-9]$/.test(input.value));
    if (missing >= 0) {
      showStatus(`Give digit ${missing + 1} its label: type the digit you meant, 0 to 9.`, "error");
      focusBox(missing);
      return;
    }
    const labels = boxes.map((input) => input.value).join("");
    const hadFocus = ui.form.contains(document.activeElement);
    saving = true;
    updateForm();
    showStatus(`Saving ${labels}…`, "busy");
    const answer = await api.request(root.dataset.numberSamplesUrl, {
      method: "POST", body: { ...shot.fields, labels },
    });
    saving = false;
    if (answer.ok && answer.data && Array.isArray(answer.data.samples)) {
      pad.clearIfUnchanged(shot.revision);   // ready for the next number
      if (samples) await samples.add(answer.data.samples);
      if (hadFocus && !document.activeElement.closest("#number-save")) ui.canvas.focus({ preventScroll: true });
      const saved = plural(answer.data.samples.length, "sample");
      const kept = samples ? samples.total() : null;   // the session's, now that the strip has them
      const total = typeof kept === "number" ? ` ${plural(kept, "sample")} saved.` : "";
      showStatus(`Saved ${labels} as ${saved}`, "ok", `Saved ${labels.split("").join(", ")} as ${saved}.${total}`);
    } else {
      showStatus(answer.error || api.NETWORK_ERROR, "error");
    }
    updateForm();
  }

  /* ---------- The mode ---------- */

  function remembered() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) === "number" ? "number" : "digit";
    } catch (error) {
      return "digit";   // storage refused (a private window's settings): the page starts on the digit pad
    }
  }

  function remember(chosen) {
    try {
      window.localStorage.setItem(STORAGE_KEY, chosen);
    } catch (error) {
      // Not remembered, but the mode still changes for this visit.
    }
  }

  /* The stylesheet shapes the pad from data-mode, so it is set before pad.js measures the pad for the new reader. */
  function setMode(chosen, { announce = false } = {}) {
    if (chosen === mode) return;
    mode = chosen;
    root.dataset.mode = mode;
    document.documentElement.dataset.mode = mode;   // the page's heading and intro, outside #recognizer
    ui.options.forEach((option) => option.setAttribute("aria-pressed", String(option.dataset.mode === mode)));
    ui.form.hidden = mode !== "number";
    if (mode === "number") ui.status.before(ui.button);
    else ui.button.remove();
    clearReading();
    pad.setReader(mode === "number" ? numberReader : null);
    root.dispatchEvent(new CustomEvent("mode:change", { detail: { mode } }));
    if (announce) {
      pad.announce(mode === "number" ? "Number: write a number on the wide pad, its digits side by side."
                                     : "Digit: draw one digit from 0 to 9.");
    }
  }

  ui.options.forEach((option) => {
    option.addEventListener("click", () => {
      remember(option.dataset.mode);
      setMode(option.dataset.mode, { announce: true });
    });
  });
  ui.inputs.addEventListener("input", onInput);
  ui.inputs.addEventListener("keydown", onFormKey);
  ui.inputs.addEventListener("focusin", (event) => {
    if (event.target instanceof HTMLInputElement) event.target.select();
  });
  ui.button.addEventListener("click", save);   // even while aria-disabled: it then says what is missing
  let onPicture = false;
  root.addEventListener("pad:change", (event) => {
    ui.boxes.classList.add("is-stale");   // about the drawing before this change, until the next reading
    // A picture replaces the drawing, and drawing over a picture replaces it: what was typed for one is not about
    // the other, even where a digit happens to sit at the same place.
    if (event.detail.picture || onPicture) inputs().forEach((input) => input.removeAttribute("data-typed"));
    onPicture = event.detail.picture;
    if (ui.status.dataset.kind === "error") {   // about the drawing before: gone once it changes
      ui.status.textContent = "";
      ui.status.dataset.kind = "";
    }
  });
  root.addEventListener("pad:state", (event) => {
    if (event.detail.mode === "number" && event.detail.state !== "result") clearReading();
  });

  root.dataset.mode = mode;
  document.documentElement.dataset.mode = mode;
  setMode(remembered());
  ui.switcher.hidden = false;
  root.dataset.numberReady = "true";
})();
