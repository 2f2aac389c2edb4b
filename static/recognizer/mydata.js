/*
 * Your data: what the site keeps of this browser's session (GET /api/me, in counts) and a button that deletes all
 * of it, asked inline first: every sample and its files, the personal model, queued and finished runs, and the
 * session itself (DELETE /api/me, which also clears the session cookie).
 *
 * The part shows only while something is kept, or to say how deleting went. The counts are asked again whenever
 * samples.js, model.js or training.js say something changed ("samples:change", "model:change", "train:change").
 * After a deletion a "data:deleted" event on #recognizer has the other scripts show the empty state in place:
 * no samples, the shared model, no training run.
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api } = window.mnistsite || {};
  if (!root || !api) return;

  const $ = (id) => document.getElementById(id);
  const url = root.dataset.meUrl;
  const ui = {
    part: $("my-data"), summary: $("my-data-summary"), actions: $("my-data-actions"),
    button: $("delete-my-data-button"), status: $("my-data-status"),
  };
  if (!url || !ui.part) return;

  let kept = null;        // GET /api/me's answer, or null until one came (or when it failed)
  let failed = false;     // the last GET /api/me failed: offer the button anyway, deleting nothing is harmless
  let asking = false;     // the question is showing: the counts may change under it, the part stays
  let refreshes = 0;      // numbers GET /api/me requests: only the newest answer counts

  const isEmpty = (k) => k.samples === 0 && k.personal_models === 0 && k.training_runs === 0;

  /* The samples count as samples.js shows them (it updates at once), else as the server last said. */
  function samplesKept() {
    const shown = window.mnistsite.samples ? window.mnistsite.samples.total() : undefined;
    return typeof shown === "number" ? shown : kept ? kept.samples : 0;
  }

  /* "3 samples, your model and 1 training run": what deleting takes, in words; "" when nothing is kept. */
  function inWords(k, { question = false } = {}) {
    const parts = [];
    const samples = samplesKept();
    if (samples) parts.push(question ? `your ${api.plural(samples, "sample")}` : api.plural(samples, "sample"));
    const size = k.personal_model_bytes ? ` (${Math.max(1, Math.round(k.personal_model_bytes / 1024))} KB)` : "";
    if (k.personal_models) parts.push(question ? "your personal model" : `your model${size}`);
    if (k.training_runs) parts.push(question ? "your training history" : api.plural(k.training_runs, "training run"));
    return parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}` : parts.join("");
  }

  function render() {
    const nothing = !failed && (kept === null || (isEmpty(kept) && samplesKept() === 0));
    ui.part.hidden = nothing && !ui.status.textContent && !asking;
    ui.button.hidden = nothing || asking;
    ui.summary.hidden = asking || (nothing && !failed);
    ui.summary.textContent = failed ? "What this site keeps of yours could not be loaded."
      : nothing ? "" : `Kept on this site for you: ${inWords(kept)}.`;
  }

  function show(text, kind) {
    ui.status.textContent = text;
    ui.status.dataset.kind = kind;
    render();
  }

  async function refresh() {
    refreshes += 1;
    const mine = refreshes;
    const answer = await api.request(url);
    if (mine !== refreshes) return;
    failed = !(answer.ok && answer.data && typeof answer.data.samples === "number");
    if (!failed) {
      kept = answer.data;
      // Something new is kept since the deletion: its message has done its work.
      if (!isEmpty(kept) && ui.status.dataset.kind === "ok") show("", "");
    }
    render();
  }

  function ask() {
    const what = kept && !failed ? inWords(kept, { question: true }) : "";
    const box = api.askInline({
      into: ui.actions, id: "delete-my-data-text", yes: "Delete everything", no: "Keep", hide: [ui.button],
      question: `${what ? `Delete ${what}?` : "Delete everything this site keeps of yours?"} This cannot be undone.`,
      act: async () => {
        show("Deleting…", "busy");
        const answer = await api.request(url, { method: "DELETE" });
        if (!answer.ok) {
          show(`Your data could not be deleted: ${answer.error}`, "error");
          return false;
        }
        refreshes += 1;   // an answer to an older GET must not bring the old counts back
        kept = { samples: 0, counts: {}, personal_models: 0, personal_model_bytes: 0, training_runs: 0 };
        failed = false;
        root.dispatchEvent(new CustomEvent("data:deleted"));
        show("All your data was deleted.", "ok");
        return true;
      },
      onClose: () => { asking = false; render(); },
      focusAfter: () => (ui.button.hidden ? ui.part : ui.button),
    });
    if (box) {
      asking = true;
      if (ui.status.dataset.kind !== "error") show("", "");
      render();
    }
  }

  ui.button.addEventListener("click", api.onButton(ask));
  ["samples:change", "model:change", "train:change"].forEach((name) => root.addEventListener(name, () => {
    render();     // samples.js's count at once, the rest when the server answers
    refresh();
  }));

  render();
  refresh().finally(() => { root.dataset.myDataReady = "true"; });
})();
