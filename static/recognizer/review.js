/*
 * The admin's review queue, by keyboard and without reloads: a (approve), r (reject) and l (relabel as the model
 * reads it) decide the sample whose row has focus (the first one at the start); j and k move between samples.
 * Each decision is the row's own form, posted in the background (the server answers JSON when asked): the row
 * goes, the progress figure moves, focus goes to the next sample, and a status line says what was done. Without
 * this script the same forms post and reload the page.
 */
(() => {
  "use strict";

  const table = document.querySelector(".review-table");
  if (!table) return;
  const status = document.getElementById("review-status");
  const bar = document.getElementById("review-progress-bar");
  const count = document.getElementById("review-count");
  const KEYS = { a: "approve", r: "reject", l: "relabel" };
  const rows = () => Array.from(table.tBodies[0].rows);
  const rowOf = (element) => (element instanceof Element ? element.closest("tr") : null);
  const focusRow = (row) => { if (row) row.querySelector("button").focus(); };

  async function decide(form, button) {
    const data = new FormData(form);
    data.set("decision", button.value);
    status.textContent = "Saving…";
    let answer = null;
    try {
      const response = await fetch(window.location.href, {
        method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (!answer || !answer.done) {
      status.textContent = answer ? answer.message : "That decision could not be saved: reload the page and try again.";
      return;
    }
    const row = rowOf(form);
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    status.textContent = answer.message;
    bar.max = Math.max(1, answer.total);
    bar.value = answer.reviewed;
    count.textContent = `${answer.reviewed} of ${answer.total}`;
    if (next) focusRow(next);
    else status.textContent = `${answer.message} Nothing left on this page: reload for the next samples.`;
  }

  table.addEventListener("submit", (event) => {
    event.preventDefault();
    decide(event.target, event.submitter);
  });

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.isComposing) return;
    if (event.target instanceof HTMLElement && event.target.matches("input, textarea, select")) return;
    const inTable = table.contains(document.activeElement);
    const row = (inTable && rowOf(document.activeElement)) || rows()[0];
    if (!row) return;
    if (KEYS[event.key]) {
      const button = row.querySelector(`button[value="${KEYS[event.key]}"]`);
      if (button) {
        event.preventDefault();
        button.click();
      } else if (event.key === "l") {   // read as its label, or not read: say so rather than do nothing
        status.textContent = "The model reads no other digit to relabel this sample as: approve (a) or reject (r) it.";
      }
    } else if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      if (!inTable) focusRow(row);   // the first key lands on the first sample
      else focusRow(event.key === "j" ? row.nextElementSibling || row : row.previousElementSibling || row);
    }
  });
})();
