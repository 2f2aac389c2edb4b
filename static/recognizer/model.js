/*
 * Which model reads this session's drawings, named under the prediction: the shared model, or the person's own
 * that Train made from their drawings ("Your model #1, trained on 46 of your drawings": the person's own count; the
 * site-wide version id is staff's, in the line's tooltip). With a model of their
 * own comes a switch between the two and a way to delete it (asked inline first); when staff have since made a
 * newer shared model active than the one it was built on, a notice offers to retrain on that one.
 *
 * The state is GET /api/model's answer: rendered into the page (#model-state), then kept up to date by the answers
 * to switching and deleting, by GET /api/model after a training run, and whenever a prediction comes from another
 * model than expected (another tab switched or trained). A prediction the shared model made because the personal
 * one could not be loaded names the shared model and shows the server's note. After a switch or a delete the
 * drawing on the pad, if any, is read again, so the answer on screen is the one of the model now reading.
 *
 * Other scripts use window.mnistsite.model (state(), deletePersonal(), refresh()) and hear of every change through
 * a "model:change" event on #recognizer (detail: the state). The Retrain button asks training.js for a run with a
 * "train:request" event; training.js says whether one is open with "train:change" (detail.open).
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, pad } = window.mnistsite || {};
  if (!root || !api || !pad) return;

  const $ = (id) => document.getElementById(id);
  const url = root.dataset.modelUrl;
  const ui = {
    panel: $("model"), dot: document.querySelector("#model-line .dot"), text: $("model-line-text"),
    controls: $("model-controls"), options: Array.from(document.querySelectorAll("#model-controls [data-use]")),
    remove: $("delete-model-button"), ask: $("model-ask"), note: $("model-note"),
    newer: $("model-newer"), newerText: $("model-newer-text"), retrain: $("retrain-button"),
    retrainLabel: $("retrain-label"),
  };
  const json = (id) => { const script = $(id); return script ? JSON.parse(script.textContent) : null; };
  // The MNIST test accuracy of the shared version the page was rendered with: the only one the page knows.
  const sharedAccuracy = { version: Number(root.dataset.modelVersion) || null, value: json("model-accuracy") };

  let state = json("model-state") || {
    shared: { version: null }, personal: null, serving: { version: null, personal: false }, newer_shared: false,
  };
  let reader = null;      // who read the drawing on show, when not who the state says (the shared one, with a note)
  let busy = false;       // a switch or a delete is on its way
  let asking = false;     // "Delete your model?" is showing
  let training = false;   // this session has a run queued or running
  let refreshes = 0;      // numbers GET /api/model requests: only the newest answer counts

  /* ---------- The line, the switch and the notices ---------- */

  /* "Your model #2": what this person calls one of theirs ({number} as GET /api/model gives it). */
  const yours = (personal) => (personal && typeof personal.number === "number" ? `Your model #${personal.number}`
                                                                               : "Your model");

  function describe(serving) {
    if (serving.version === null) return "No active model";
    if (serving.personal) {
      const own = state.personal && state.personal.version === serving.version ? state.personal : null;
      const learnt = own && typeof own.trained_on === "number" ? `, trained on ${own.trained_on} of your drawings` : "";
      return `${yours(own)}${learnt}`;
    }
    const known = serving.version === sharedAccuracy.version && typeof sharedAccuracy.value === "number";
    return `Shared model v${serving.version}${known ? ` · MNIST test accuracy ${api.percent(sharedAccuracy.value, 2)}`
                                                    : ""}`;
  }

  function render() {
    const serving = reader || state.serving;
    const { personal } = state;
    ui.text.textContent = describe(serving);
    ui.text.title = serving.version === null ? "" : `Model version ${serving.version}`;   // for staff
    ui.dot.className = `dot ${serving.version === null ? "dot--off" : serving.personal ? "dot--mine" : "dot--ok"}`;
    ui.panel.dataset.serving = serving.personal ? "personal" : "shared";
    ui.controls.hidden = !personal || asking;
    ui.options.forEach((option) => {
      const mine = option.dataset.use === "personal";
      option.setAttribute("aria-pressed", String(Boolean(personal) && mine === personal.enabled));
      option.setAttribute("aria-disabled", String(busy));
    });
    ui.remove.setAttribute("aria-disabled", String(busy));

    const newer = Boolean(personal && state.newer_shared && state.shared.version !== null);
    ui.newer.hidden = !newer;
    if (newer) {
      const built = personal.parent_version ? `yours was built on v${personal.parent_version}` : "yours is older";
      ui.newerText.textContent = `A newer shared model, v${state.shared.version}, is out; ${built}. `
        + "Retrain to build yours on it: your drawings are kept.";
      ui.retrainLabel.textContent = training ? "Retraining…" : `Retrain on v${state.shared.version}`;
      ui.retrain.setAttribute("aria-disabled", String(training));
    }
  }

  /* kind: "warn" for the server's note about a prediction, "error" when a change failed. */
  function showNote(text, kind) {
    ui.note.textContent = text || "";
    ui.note.dataset.kind = kind;
    ui.note.hidden = !text;
  }

  const sameModel = (a, b) => a.version === b.version && Boolean(a.personal) === Boolean(b.personal);

  /* A new state: drawn, told to the other scripts, and, when another model reads now, the pad read again. */
  function setState(next, { repredict = false } = {}) {
    const changed = !sameModel(next.serving, state.serving);
    state = next;
    reader = null;
    showNote("", "");
    render();
    root.dispatchEvent(new CustomEvent("model:change", { detail: state }));
    if (repredict && changed && !pad.isEmpty()) pad.predict();
  }

  async function refresh({ repredict = false } = {}) {
    refreshes += 1;
    const mine = refreshes;
    const answer = await api.request(url);
    if (mine === refreshes && answer.ok && answer.data && answer.data.serving) setState(answer.data, { repredict });
    return answer;
  }

  /* ---------- Predictions say who read them ---------- */

  function onPadState(event) {
    const read = event.detail.reader;
    if (!read) return;   // the pad was cleared, or an error shows: the line keeps naming the last reader
    if (read.note) {
      reader = { version: read.version, personal: read.personal };
      render();
      showNote(read.note, "warn");
      return;
    }
    if (ui.note.dataset.kind === "warn") showNote("", "");
    const surprise = !sameModel(read, state.serving);
    reader = surprise ? { version: read.version, personal: read.personal } : null;
    render();
    if (surprise) refresh();   // switched, trained or deleted elsewhere: ask what this session uses now
  }

  /* ---------- Switching and deleting ---------- */

  async function use(choice) {
    const { personal } = state;
    if (busy || !personal || personal.enabled === (choice === "personal")) return;
    busy = true;
    render();
    const answer = await api.request(url, { method: "POST", body: { use: choice } });
    busy = false;
    if (answer.ok && answer.data && answer.data.serving) {
      setState(answer.data, { repredict: true });
      pad.announce(choice === "personal" ? `${yours(personal)} reads your drawings now.`
                                         : `The shared model v${state.shared.version} reads your drawings now.`);
    } else {
      render();
      showNote(answer.error, "error");
      if (answer.status === 404) refresh();   // it was deleted in another tab
    }
  }

  /* Delete this session's model (also used by Clear all in samples.js); resolves to the API's answer. */
  async function deletePersonal() {
    const answer = await api.request(url, { method: "DELETE" });
    if (answer.ok) {
      forgetPersonal();
      const shared = state.shared.version;
      const now = shared === null ? "The shared model" : `The shared model v${shared}`;
      pad.announce(`Deleted your model. ${now} reads your drawings now.`);
    }
    return answer;
  }

  /* The personal model is gone (deleted here, or with all of this session's data): the shared one reads. */
  function forgetPersonal() {
    const shared = state.shared.version;
    setState({ ...state, personal: null, newer_shared: false, serving: { version: shared, personal: false } },
             { repredict: true });
  }

  function askToDelete() {
    const { personal } = state;
    if (!personal || busy) return;
    const shared = state.shared.version === null ? "the shared model" : `the shared model v${state.shared.version}`;
    const box = api.askInline({
      into: ui.ask, id: "delete-model-text", yes: "Delete model",
      question: `Delete ${yours(personal).toLowerCase()}? From then on ${shared} reads your drawings. `
        + "Your saved drawings stay, so you can train again.",
      act: async () => {
        const answer = await deletePersonal();
        if (!answer.ok) showNote(answer.error, "error");
        return answer.ok;
      },
      onClose: () => { asking = false; render(); },
      focusAfter: () => (state.personal ? ui.remove : ui.panel),
    });
    if (box) {
      asking = true;   // the question stands in for the controls; focus is on its Cancel
      render();
    }
  }

  /* ---------- Wiring ---------- */

  ui.options.forEach((option) => {
    option.addEventListener("click", api.onButton(() => use(option.dataset.use)));
  });
  ui.remove.addEventListener("click", api.onButton(askToDelete));
  ui.retrain.addEventListener("click", api.onButton(() => root.dispatchEvent(new CustomEvent("train:request"))));
  root.addEventListener("pad:state", onPadState);
  root.addEventListener("train:finished", () => refresh({ repredict: true }));
  root.addEventListener("data:deleted", forgetPersonal);   // mydata.js deleted everything of this session
  root.addEventListener("train:change", (event) => {
    training = event.detail.open;
    render();
  });

  window.mnistsite.model = { state: () => state, deletePersonal, refresh, yours };
  render();
  root.dataset.modelReady = "true";
})();
