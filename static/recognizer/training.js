/*
 * Fine-tuning on this session's samples: the Train button, a progress bar, a live chart of loss and accuracy per
 * epoch, and the outcome (before/after accuracy, the new version, or why it was not used).
 *
 * A run's status is polled every POLL_MS while it is queued or running; the first poll may already find it
 * finished (a server that trains inside the request). On load, GET /api/train resumes this session's open run,
 * or shows the last one's outcome. When a run succeeds the prediction panel switches to the new version and,
 * if a drawing is on the pad, predicts it again with that version.
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, pad } = window.mnistsite || {};
  if (!root || !api || !pad) return;

  const POLL_MS = 700;
  const RETRY_MS = 2000;          // after a failed poll
  const BUSY_POLL_MS = 3000;      // while someone else's run keeps the trainer busy
  const LONG_QUEUE_MS = 60000;    // a run queued this long (as this page saw it) hints that no trainer is running
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const url = root.dataset.trainUrl;
  const ui = {
    card: $("train"), run: $("train-run"), button: $("train-button"), reason: $("train-reason"),
    live: $("train-live"), stage: $("train-stage"), percent: $("train-percent"), progress: $("train-progress"),
    chart: $("train-chart"), accuracyValue: $("chart-accuracy-value"), lossValue: $("chart-loss-value"),
    outcome: $("train-outcome"), outcomeTitle: $("train-outcome-title"), outcomeTable: $("train-outcome-table"),
    outcomeNote: $("train-outcome-note"), steps: $("train-steps"),
  };

  let run = null;                 // the latest run of this session, as GET /api/train/<id> answers
  const queuedSeen = { id: null, at: 0 };   // which queued run this page first saw, and when
  let samplesTotal;               // undefined until samples.js has loaded the list; null when that failed
  let busyElsewhere = false;
  let starting = false;
  let pollTimer = null;
  let busyTimer = null;

  const isOpen = (r) => Boolean(r) && (r.status === "queued" || r.status === "running");
  const { plural } = api;
  const totalEpochs = (r) => r.epochs || (r.params && r.params.epochs) || null;   // when the API says

  /* ---------- The button and why it is disabled ---------- */

  function updateButton() {
    let reason = "";
    if (starting) reason = "Starting…";
    else if (isOpen(run)) reason = `Training… (run ${run.id})`;
    else if (busyElsewhere) reason = "Another training run is in progress";
    else if (pad.modelVersion() === null) reason = "No model is active yet";
    else if (samplesTotal === 0) reason = "Save a few labelled drawings first";
    else if (samplesTotal === null) reason = "Your samples could not be loaded — reload the page";
    const disabled = Boolean(reason) || samplesTotal === undefined;
    ui.button.setAttribute("aria-disabled", String(disabled));
    if (!disabled && typeof samplesTotal === "number") reason = `Learns from your ${plural(samplesTotal, "sample")}`;
    ui.reason.textContent = reason;
    ui.reason.classList.toggle("is-blocked", disabled);
  }

  async function start() {
    starting = true;
    ui.outcome.hidden = true;
    updateButton();
    const answer = await api.request(url, { method: "POST" });
    starting = false;
    if (answer.ok && answer.data && typeof answer.data.job === "number") {
      run = { id: answer.data.job, status: "queued", progress: 0, history: [], metrics: {} };
      showRun();
      poll();
    } else {
      showOutcome("error", "Training could not start:", { detail: answer.error });
      if (answer.status === 409) refresh();   // a run is open: maybe this session's, from another tab
    }
    updateButton();
  }

  /* ---------- Following a run ---------- */

  async function poll() {
    clearTimeout(pollTimer);
    const id = run.id;
    const answer = await api.request(`${url}/${id}`);
    if (!run || run.id !== id) return;
    if (answer.ok && answer.data && answer.data.id === id) {
      run = answer.data;
      showRun();
      if (isOpen(run)) pollTimer = setTimeout(poll, POLL_MS);
      else finished({ live: true });
    } else if (answer.status === 404) {
      run = null;   // the card goes back to how it looks with no run: the steps, no "Run N"
      ui.live.hidden = true;
      ui.run.hidden = true;
      ui.steps.hidden = false;
      showOutcome("error", answer.error);
    } else {
      ui.stage.textContent = "Lost contact with the server — retrying…";
      pollTimer = setTimeout(poll, RETRY_MS);
    }
    updateButton();
  }

  /* GET /api/train: this session's latest run, and whether any run keeps the trainer busy. */
  async function refresh({ initial = false } = {}) {
    clearTimeout(busyTimer);
    const answer = await api.request(url);
    if (!answer.ok || !answer.data) {
      if (initial) showOutcome("error", "The training status could not be loaded:", { detail: answer.error });
      else if (busyElsewhere) busyTimer = setTimeout(refresh, BUSY_POLL_MS);
      return;
    }
    const latest = answer.data.run;
    busyElsewhere = Boolean(answer.data.busy) && !isOpen(latest);
    if (latest && (initial || isOpen(latest)) && !(run && run.id === latest.id && isOpen(run))) {
      run = latest;
      showRun();
      if (isOpen(run)) poll();
      else finished({ live: false });
    }
    if (busyElsewhere) busyTimer = setTimeout(refresh, BUSY_POLL_MS);
    updateButton();
  }

  function showRun() {
    ui.steps.hidden = true;   // the card is about this run now
    ui.live.hidden = false;
    ui.run.hidden = false;
    ui.run.textContent = `Run ${run.id}`;
    ui.progress.value = run.progress;
    ui.percent.textContent = `${Math.round(run.progress * 100)}\u00a0%`;
    const now = stage(run);
    if (now !== ui.stage.textContent) {
      ui.stage.textContent = now;
      if (isOpen(run)) pad.announce(now);   // each step once; the outcome is announced when it comes
    }
    ui.card.dataset.status = run.status;
    drawChart();
  }

  function stage(r) {
    const epochs = totalEpochs(r);
    if (r.status === "queued") {
      // Timed by this page, not from the server's clock: the two may disagree.
      if (queuedSeen.id !== r.id) Object.assign(queuedSeen, { id: r.id, at: Date.now() });
      return Date.now() - queuedSeen.at < LONG_QUEUE_MS ? "Queued — waiting for the trainer"
        : "Still queued — the trainer may not be running; tell whoever runs this site";
    }
    if (r.status === "running") {
      // The server gives the first tenth of the bar to measuring the current model and the last 15 % to
      // measuring the new one.
      if (r.progress < 0.1 && !r.history.length) return "Measuring the current model…";
      if (r.progress >= 0.85 || (epochs && r.history.length >= epochs)) return "Checking the result against MNIST…";
      const epoch = r.history.length + 1;
      return `Training epoch ${epoch}${epochs ? ` of ${epochs}` : ""}`;
    }
    const took = r.finished && r.created ? (Date.parse(r.finished) - Date.parse(r.created)) / 1000 : NaN;
    const verb = r.status === "failed" ? "Stopped" : "Finished";
    return Number.isFinite(took) ? `${verb} after ${Math.max(1, Math.round(took))}\u00a0s` : verb;
  }

  function finished({ live }) {
    const metrics = run.metrics || {};
    if (run.status === "succeeded") {
      const activeNow = live || pad.modelVersion() === run.model_version;
      showOutcome("ok", activeNow ? `New model v${run.model_version} is now active`
                                  : `Run ${run.id} made model v${run.model_version}`, {
        metrics, note: `Learnt from ${plural(run.samples, "sample")}, starting from model v${run.parent_version}.`,
      });
      if (live) {
        const after = metrics.after || {};
        pad.setModel(run.model_version, after.mnist_accuracy);
        if (!pad.isEmpty()) pad.predict();   // the drawing on the pad, read again by the new version
      }
    } else if (run.status === "rejected") {
      showOutcome("warn", "The new model was not used:", {
        detail: metrics.gate || "it did not pass the quality check.", metrics,
        note: `Model v${run.parent_version} stays active.`,
      });
    } else {
      showOutcome("error", "Training failed:", {
        detail: run.error || "the trainer gave no reason.", note: "The active model was not changed.",
      });
    }
    if (live) pad.announce(ui.outcomeTitle.textContent);
  }

  /* ---------- Outcome: before and after ---------- */

  /* The title in bold, then the server's explanation (detail) in plain text; before/after rows when measured. */
  function showOutcome(kind, title, { detail = "", metrics = null, note = "" } = {}) {
    ui.outcome.hidden = false;
    ui.outcome.dataset.kind = kind;
    ui.outcomeTitle.replaceChildren(span("outcome__headline", title));
    if (detail) ui.outcomeTitle.append(" ", span("outcome__detail", detail));
    ui.outcomeNote.textContent = note;
    ui.outcomeNote.hidden = !note;
    const before = (metrics && metrics.before) || {};
    const after = (metrics && metrics.after) || {};
    const rows = [
      ["Your samples", before.user_accuracy, after.user_accuracy, 1],
      ["MNIST test", before.mnist_accuracy, after.mnist_accuracy, 2],
    ].filter(([, a, b]) => typeof a === "number" && typeof b === "number");
    ui.outcomeTable.replaceChildren(...rows.map((row) => comparison(...row)));
    ui.outcomeTable.hidden = rows.length === 0;
  }

  function comparison(name, before, after, digits) {
    const row = document.createElement("div");
    row.className = "outcome__row";
    const term = document.createElement("dt");
    term.textContent = name;
    const value = document.createElement("dd");
    const points = Number(((after - before) * 100).toFixed(digits));
    const change = document.createElement("span");
    change.className = `delta ${points > 0 ? "delta--up" : points < 0 ? "delta--down" : ""}`;
    change.textContent = points === 0 ? "no change" : `${points > 0 ? "+" : "−"}${Math.abs(points)} pts`;
    const values = span("outcome__values", "");
    values.append(span("outcome__before", percent(before, digits)), span("outcome__arrow", " → "),
                  span("outcome__after", percent(after, digits)));
    value.append(values, " ", change);
    row.append(term, value);
    return row;
  }

  function span(className, text) {
    const element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  /* Samples: "40 %", "42.9 %"; MNIST always with two decimals: "99.64 %". */
  const percent = (fraction, digits) => api.percent(fraction, digits, { trim: digits === 1 });

  /* ---------- Chart: loss and accuracy per epoch, in SVG ---------- */

  function svg(name, attributes, parent, text) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, String(value)));
    if (text !== undefined) element.textContent = text;
    parent.append(element);
    return element;
  }

  /* Four equal steps up to 100 %, as fine as the lowest accuracy allows. */
  function accuracyScale(lowest) {
    const step = [0.01, 0.02, 0.05, 0.1].find((s) => 1 - 4 * s <= lowest - s / 4) || 0.25;
    return { low: 1 - 4 * step, step };
  }

  /* Four equal steps from 0 to just above the highest loss. */
  function lossScale(highest) {
    const step = [0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5]
      .find((s) => 4 * s >= highest * 1.05) || Math.ceil(highest / 4);
    return { high: 4 * step, step };
  }

  function drawChart() {
    const history = run ? run.history : [];
    const width = Math.max(260, Math.round(ui.chart.getBoundingClientRect().width) || 480);
    const height = 190;
    const m = { top: 12, right: 46, bottom: 34, left: 46 };
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const n = Math.max(totalEpochs(run || {}) || 0, history.length, 1);
    const acc = accuracyScale(Math.min(1, ...history.map((h) => h.train_accuracy)));
    const loss = lossScale(Math.max(0, ...history.map((h) => h.train_loss)));
    const x = (epoch) => m.left + ((epoch - 0.5) / n) * plotW;
    const yAcc = (a) => m.top + (1 - (a - acc.low) / (1 - acc.low)) * plotH;
    const yLoss = (l) => m.top + (1 - l / loss.high) * plotH;

    ui.chart.replaceChildren();
    ui.chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const grid = svg("g", { class: "chart__grid" }, ui.chart);
    for (let i = 0; i <= 4; i += 1) {
      const y = m.top + (plotH * i) / 4;
      svg("line", { x1: m.left, x2: width - m.right, y1: y, y2: y }, grid);
      if (!history.length) continue;
      svg("text", { x: m.left - 8, y, class: "chart__tick chart__tick--accuracy", "text-anchor": "end",
                    "dominant-baseline": "middle" }, grid, `${Math.round((1 - i * acc.step) * 100)}\u00a0%`);
      svg("text", { x: width - m.right + 8, y, class: "chart__tick chart__tick--loss",
                    "dominant-baseline": "middle" }, grid, String(Number((loss.high - i * loss.step).toFixed(3))));
    }
    for (let epoch = 1; epoch <= n; epoch += 1) {
      svg("text", { x: x(epoch), y: height - 16, class: "chart__tick", "text-anchor": "middle" }, grid, String(epoch));
    }
    svg("text", { x: m.left + plotW / 2, y: height - 2, class: "chart__axis-title", "text-anchor": "middle" },
        grid, "Epoch");

    if (!history.length) {
      svg("text", { x: m.left + plotW / 2, y: m.top + plotH / 2, class: "chart__empty", "text-anchor": "middle",
                    "dominant-baseline": "middle" }, ui.chart, "Each finished epoch appears here");
    }
    series(history.map((h) => [x(h.epoch), yLoss(h.train_loss), `Epoch ${h.epoch}: loss ${h.train_loss.toFixed(3)}`]),
           "loss");
    series(history.map((h) => [x(h.epoch), yAcc(h.train_accuracy),
                               `Epoch ${h.epoch}: accuracy ${percent(h.train_accuracy, 1)}`]), "accuracy");
    describeChart(history);
  }

  function series(points, name) {
    if (!points.length) return;
    const group = svg("g", { class: `chart__series chart__series--${name}` }, ui.chart);
    svg("polyline", { points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "),
                      class: "chart__line" }, group);
    points.forEach(([px, py, label]) => {
      const dot = svg("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 4, class: "chart__point" }, group);
      svg("title", {}, dot, label);
    });
  }

  function describeChart(history) {
    const last = history[history.length - 1];
    ui.accuracyValue.textContent = last ? percent(last.train_accuracy, 1) : "";
    ui.lossValue.textContent = last ? last.train_loss.toFixed(3) : "";
    const epochs = history.map((h) => `epoch ${h.epoch}: loss ${h.train_loss.toFixed(3)}, accuracy `
                                        + percent(h.train_accuracy, 1));
    ui.chart.setAttribute("aria-label", `Loss and accuracy per epoch${epochs.length ? `: ${epochs.join("; ")}`
                                                                                   : ": no epoch finished yet"}`);
  }

  /* ---------- Wiring ---------- */

  ui.button.addEventListener("click", api.onButton(start));
  root.addEventListener("samples:change", (event) => {
    samplesTotal = event.detail.total;
    updateButton();
  });
  root.addEventListener("pad:state", updateButton);   // a prediction may reveal that a model became active
  new ResizeObserver(() => { if (!ui.live.hidden) drawChart(); }).observe(ui.live);

  ui.card.hidden = false;
  updateButton();
  refresh({ initial: true }).finally(() => { root.dataset.trainReady = "true"; });
})();
