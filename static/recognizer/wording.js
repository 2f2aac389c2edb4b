/*
 * The words for a reading's verdict, seen and said: the one place for "Confident", "Unsure", "an 8" and the digit it
 * could also be. result.js words the digit pad's answer with it, number.js each digit of a number.
 *
 * A reading is the API's: {digit, confidence, verdict, runner_up}, where verdict is "digit", "unsure" or
 * "not_a_digit" and runner_up the digit it could also be (or null). The words follow the server's verdict, never
 * work it out, so that the page agrees with the API and the admin.
 * The digit pad's answer is worded in full: the other digit with its article ("could also be an 8"), a hint when it is
 * unsure of nothing in particular, and what to do with a drawing that is no digit. A number's digit, one of several
 * side by side, is worded briefly ({ brief: true }): "could also be 8", no hint, "Not a digit?".
 */
(() => {
  "use strict";

  const { api } = window.mnistsite || {};
  if (!api) return;

  const notADigit = (reading) => reading.verdict === "not_a_digit";
  const aDigit = (digit) => `${digit === 8 ? "an" : "a"} ${digit}`;   // "an 8", said as "eight"

  /* "could also be an 8" ("could also be 8" when brief), or "" when the answer names no other digit. */
  function couldAlso(reading, brief) {
    if (typeof reading.runner_up !== "number") return "";
    return `could also be ${brief ? reading.runner_up : aDigit(reading.runner_up)}`;
  }

  /* The verdict under a reading: "Confident", "Unsure — could also be an 8", "Unsure — try a clearer shape"… */
  function verdict(reading, { brief = false } = {}) {
    if (notADigit(reading)) {
      return brief ? "Not a digit?" : "Draw one digit from 0 to 9 — or, if this is one, save it with its label";
    }
    const unsure = reading.verdict === "unsure";
    const also = couldAlso(reading, brief);
    // Size and position do not matter (the server crops and centres the ink): only the shape can help.
    const hint = unsure && !brief ? " — try a clearer shape" : "";
    return `${unsure ? "Unsure" : "Confident"}${also ? ` — ${also}` : hint}`;
  }

  /* What is said of it: "Unsure: Looks like a 3 (40.0 % sure). It could also be an 8.", or when brief
     "3 (unsure, 40.0 % sure, could also be 8)". */
  function said(reading, { brief = false } = {}) {
    const { digit } = reading;
    if (notADigit(reading)) return brief ? "not a digit" : `That doesn\u2019t look like a digit. Best guess: ${digit}.`;
    const unsure = reading.verdict === "unsure";
    const sure = `${api.percent(reading.confidence)} sure`;
    const also = couldAlso(reading, brief);
    if (brief) return `${digit} (${unsure ? "unsure, " : ""}${sure}${also ? `, ${also}` : ""})`;
    return `${unsure ? "Unsure: " : ""}Looks like ${aDigit(digit)} (${sure}).${also ? ` It ${also}.` : ""}`;
  }

  window.mnistsite.wording = { verdict, said, notADigit };
})();
