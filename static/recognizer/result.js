/*
 * The result panel (#result): idle, a message, or a reader's answer; "Thinking…" while an answer is slow; the pad's
 * guess in its head; and the page's one announcer (#announcer), through which answers are said.
 *
 * Which reader's answer is on show is the pad's (pad.js): it hands it to showState, showAnswer and showMessage. A
 * reader fills its own panel (reader.body) with show(data) → {digit, verdict, guess, spoken}; the one-digit reader's
 * panel is this file's (digitPanel: all ten probabilities and what the network saw), worded by wording.js.
 * Every change of state is sent as "pad:state" on #recognizer: detail.digit is the predicted digit, or null when no
 * prediction is shown or it is not one digit's; detail.reader is which model read it, {version, personal, note}, as
 * the answer says; detail.mode the reader's name. The line naming the model is model.js's.
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, wording } = window.mnistsite || {};
  if (!root || !api || !wording) return;

  const $ = (id) => document.getElementById(id);
  const ui = {
    guess: $("pad-guess"),
    result: $("result"), status: $("result-status"), idle: $("result-idle"), body: $("result-body"),
    message: $("result-message"), messageText: $("result-message-text"),
    digit: $("result-digit"), confidence: $("confidence-text"), meter: $("confidence-meter"),
    verdict: $("confidence-verdict"), digitLabel: $("result-digit-label"),
    confidenceUnit: $("confidence-unit"), bars: Array.from($("probability-bars").children),
    networkInput: $("network-input"), announcer: $("announcer"),
  };
  const { percent } = api;   // percent keeps trailing zeros here: "40.0 %"

  /* "Thinking…", and the panel busy for assistive technology. */
  function setBusy(busy) {
    ui.status.hidden = !busy;
    ui.result.setAttribute("aria-busy", String(busy));
  }

  /* digit and model: the predicted digit and the model that read it, while state is "result". */
  function showState(reader, state, digit = null, model = null, verdict = null) {
    ui.idle.hidden = state !== "idle";
    ui.message.hidden = state !== "message";
    reader.body.hidden = state !== "result";
    ui.guess.hidden = state !== "result";
    ui.result.dataset.state = state;
    const result = state === "result";
    root.dispatchEvent(new CustomEvent("pad:state", {
      detail: { state, digit: result ? digit : null, reader: result ? model : null,
                verdict: result ? verdict : null, mode: reader.name },
    }));
  }

  /* An answer the reader accepted: its panel filled, the pad's guess, who read it, and (with say) its words said. */
  function showAnswer(reader, data, { say = true } = {}) {
    const shown = reader.show(data);   // {digit, verdict, guess, spoken}
    ui.guess.textContent = shown.guess;
    showState(reader, "result", shown.digit, { version: data.model_version, personal: Boolean(data.personal),
                                               note: data.note || null }, shown.verdict);
    if (say) announce(shown.spoken);
  }

  function showMessage(reader, text) {
    ui.messageText.textContent = text;
    showState(reader, "message");
    announce(text);
  }

  /* The one-digit reader's panel (POST /api/predict): the server's verdict, worded, never worked out here. */
  function showPrediction(data) {
    const { digit, confidence, probabilities, verdict } = data;
    const noDigit = wording.notADigit(data);
    ui.body.dataset.verdict = verdict;
    ui.digit.textContent = String(digit);
    ui.digitLabel.textContent = noDigit ? "That doesn\u2019t look like a digit" : "Most likely digit";
    ui.confidence.textContent = percent(confidence);
    // The classifier's confidence is among digits only: for a drawing that is none, say so beside the figure.
    ui.confidenceUnit.textContent = noDigit ? `that it is a ${digit}, if a digit at all` : "confidence";
    ui.meter.value = confidence;
    ui.verdict.textContent = wording.verdict(data);
    ui.bars.forEach((row, index) => {
      const p = probabilities[index];
      row.style.setProperty("--p", String(p));
      row.dataset.probability = String(p);
      row.classList.toggle("is-winner", index === digit);
      row.querySelector(".bars__value").textContent = percent(p);
      row.setAttribute("aria-label", `${index}: ${percent(p)}${index === digit ? " (most likely)" : ""}`);
    });
    ui.networkInput.src = data.preprocessed;
    return {
      digit, verdict,
      guess: noDigit ? "Not a digit?" : `Looks like ${digit} · ${percent(confidence)}`,
      spoken: wording.said(data),
    };
  }

  function announce(text) {
    // Re-setting the same text would not be announced again: clear first, set on the next frame.
    ui.announcer.textContent = "";
    requestAnimationFrame(() => { ui.announcer.textContent = text; });
  }

  window.mnistsite.result = {
    setBusy, showState, showAnswer, showMessage, announce,
    /* For the one-digit reader (pad.js adds its name, URL and the pad's label). */
    digitPanel: { body: ui.body, accepts: (data) => Array.isArray(data.probabilities), show: showPrediction },
  };
})();
