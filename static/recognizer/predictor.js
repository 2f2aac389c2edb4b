/*
 * The order of the pad's requests (window.mnistsite.predictor): only the latest answer is shown.
 *
 * Predictions are debounced while drawing (schedule); every request gets a sequence number and only the answer to the
 * newest one is shown, while superseded requests are aborted. pad.js cancels whatever is on its way at every change of
 * the drawing (a point added mid-stroke, a stroke, undo, clear, a picture), so an answer is shown only while the pad
 * still holds what it read. "Thinking…" (result.js) shows only when an answer is slow.
 */
(() => {
  "use strict";

  const { api, result } = window.mnistsite || {};
  if (!api || !result) return;

  const DEBOUNCE_MS = 200;        // after the last pointer move
  const BUSY_DELAY_MS = 250;      // show "Thinking…" only when an answer is slow, to avoid flicker
  const NETWORK_ERROR = "Could not reach the recogniser — try again.";

  let sequence = 0;       // number of the newest request; answers to any other are stale
  let inFlight = null;    // AbortController of the newest request still running
  let debounceTimer = null;
  let busyTimer = null;

  /* Run action once DEBOUNCE_MS have passed without another call (or a cancel). */
  function schedule(action) {
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(action, DEBOUNCE_MS);
  }

  function cancel() {
    clearTimeout(debounceTimer);
    sequence += 1;        // whatever is still on its way is now stale
    if (inFlight) inFlight.abort();
    inFlight = null;
    setBusy(false);
  }

  /*
   * Send fields ({image} or {file}) to the reader as the newest request; show(answer, current) runs unless a newer
   * request or a cancel made it stale meanwhile (current() says whether it still is). Resolves once done.
   */
  async function ask(reader, fields, show) {
    cancel();
    const mine = sequence;
    const current = () => mine === sequence;
    const controller = new AbortController();
    inFlight = controller;
    clearTimeout(busyTimer);
    busyTimer = setTimeout(() => setBusy(true), BUSY_DELAY_MS);
    try {
      const answer = await read(reader, fields, controller.signal);
      if (current()) await show(answer, current);
    } catch (error) {
      if (error.name !== "AbortError") throw error;   // api.request rejects only when aborted: superseded
    } finally {
      if (current()) {
        inFlight = null;
        setBusy(false);
      }
    }
  }

  /* POST the drawing to the reader; resolve to {ok, data} or {ok: false, error}, reject only when aborted. */
  async function read(reader, fields, signal) {
    const answer = await api.request(reader.url, {
      method: "POST", body: fields, signal, networkError: NETWORK_ERROR,
    });
    if (answer.ok && !(answer.data && reader.accepts(answer.data))) {
      return { ok: false, error: NETWORK_ERROR };
    }
    return answer;
  }

  function setBusy(busy) {
    if (!busy) clearTimeout(busyTimer);
    result.setBusy(busy);
  }

  window.mnistsite.predictor = { schedule, cancel, ask };
})();
