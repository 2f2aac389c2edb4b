/*
 * Training the person's own model on this session's samples: the Train button, a progress bar with the run's
 * place in the queue, a live chart of loss and accuracy per epoch, and the outcome: accuracy before and after on
 * the drawings the run held out (overall and per digit) and on MNIST validation, and whether it became their model.
 * Other sessions' runs never block this one; they only queue ahead of it.
 *
 * A run's status is polled every POLL_MS while it is queued or running; the first poll may already find it
 * finished (a server that trains inside the request). On load, GET /api/train resumes this session's open run,
 * or shows the last one's outcome. When a run finishes, a "train:finished" event tells model.js, which asks which
 * model reads now and reads the drawing on the pad again; "train:change" (detail.open) says whether a run is open,
 * and a "train:request" (model.js's Retrain button) starts one. "train:tested" gives samples.js, per digit, how
 * the last run's test read the drawings it kept aside, for the model that reads now (detail.digits, or null).
 * After "data:deleted" (mydata.js deleted everything of this session) the card shows no run.
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, pad, model, samples } = window.mnistsite || {};
  if (!root || !api || !pad || !model) return;

  const POLL_MS = 700;
  const RETRY_MS = 2000;          // after a failed poll
  const LONG_QUEUE_MS = 60000;    // no move in the queue for this long (as this page saw it): no trainer is running?
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const url = root.dataset.trainUrl;
  const ui = {
    card: $("train"), run: $("train-run"), button: $("train-button"), reason: $("train-reason"),
    live: $("train-live"), stage: $("train-stage"), percent: $("train-percent"), progress: $("train-progress"),
    chart: $("train-chart"), accuracyValue: $("chart-accuracy-value"), lossValue: $("chart-loss-value"),
    outcome: $("train-outcome"), outcomeTitle: $("train-outcome-title"), outcomeTable: $("train-outcome-table"),
    unmeasured: $("train-outcome-unmeasured"), digits: $("train-outcome-digits"),
    digitRows: $("train-outcome-digit-rows"), outcomeNote: $("train-outcome-note"), steps: $("train-steps"),
  };

  let run = null;                 // the latest run of this session, as GET /api/train/<id> answers
  let followed = null;            // the id of the run this page watched finish
  let outcomeRun = null;          // the id of the run whose outcome shows (null: none, or an error about starting)
  const queuedSeen = { id: null, position: null, at: 0 };   // the queue place this page last saw change, and when
  // undefined until samples.js has loaded the list; null when that failed. Its load may end before this script
  // runs (a quickly refused request), so the event alone could be missed.
  let samplesTotal = samples ? samples.total() : undefined;
  let starting = false;
  let wasOpen = false;
  let pollTimer = null;

  const isOpen = (r) => Boolean(r) && (r.status === "queued" || r.status === "running");
  const { plural } = api;
  const totalEpochs = (r) => r.epochs || (r.params && r.params.epochs) || null;   // when the API says

  /* ---------- The button and why it is disabled ---------- */

  function updateButton() {
    let reason = "";
    if (starting) reason = "Starting…";
    else if (isOpen(run)) reason = `Training… (run ${run.id})`;
    else if (model.state().shared.version === null) reason = "No model is active yet";
    else if (samplesTotal === 0) reason = "Save a few labelled drawings first";
    else if (samplesTotal === null) reason = "Your samples could not be loaded — reload the page";
    const disabled = Boolean(reason) || samplesTotal === undefined;
    ui.button.setAttribute("aria-disabled", String(disabled));
    if (!disabled && typeof samplesTotal === "number") reason = `Learns from your ${plural(samplesTotal, "sample")}`;
    ui.reason.textContent = reason;
    ui.reason.classList.toggle("is-blocked", disabled);
    const open = starting || isOpen(run);
    if (open !== wasOpen) {
      wasOpen = open;
      root.dispatchEvent(new CustomEvent("train:change", { detail: { open } }));
    }
  }

  async function start() {
    starting = true;
    ui.outcome.hidden = true;
    updateButton();
    const answer = await api.request(url, { method: "POST" });
    starting = false;
    if (answer.ok && answer.data && typeof answer.data.job === "number") {
      run = { id: answer.data.job, status: "queued", queue_position: null, progress: 0, history: [], metrics: {} };
      showRun();
      // The steps stay and the progress opens under the button: nothing above it moves. Focus follows the progress.
      ui.live.focus({ preventScroll: true });
      ui.live.scrollIntoView({ block: "nearest" });
      poll();
    } else {
      showOutcome("error", "Training could not start:", { detail: answer.error });
      if (answer.status === 409) refresh();   // this session's run is open already, started in another tab
    }
    updateButton();
  }

  /* The Retrain button under the prediction: start here, where the run can be watched. */
  function onRequest() {
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    ui.card.scrollIntoView({ block: "nearest", behavior: still ? "auto" : "smooth" });
    if (ui.button.getAttribute("aria-disabled") === "true") ui.button.focus();   // its reason says why not
    else start();
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

  /* mydata.js deleted everything of this session, its runs too: the card looks as it does before a first run. */
  function forgetRuns() {
    clearTimeout(pollTimer);
    run = null;
    followed = null;
    outcomeRun = null;
    ui.live.hidden = true;
    ui.run.hidden = true;
    ui.outcome.hidden = true;
    ui.steps.hidden = false;
    delete ui.card.dataset.status;
    announceTested();
    updateButton();
  }

  /* GET /api/train: this session's latest run. */
  async function refresh({ initial = false } = {}) {
    const answer = await api.request(url);
    if (!answer.ok || !answer.data) {
      if (initial) showOutcome("error", "The training status could not be loaded:", { detail: answer.error });
      return;
    }
    const latest = answer.data.run;
    if (latest && (initial || isOpen(latest)) && !(run && run.id === latest.id && isOpen(run))) {
      if (initial) ui.steps.hidden = true;   // the card is about this run now; hidden at load, nothing jumps
      run = latest;
      showRun();
      if (isOpen(run)) poll();
      else finished({ live: false });
    }
    updateButton();
  }

  function showRun() {
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
    if (r.status === "queued") return queued(r);
    if (r.status === "running") {
      // The server gives the first tenth of the bar to reading the drawings and the last 15 % to testing the result.
      if (r.progress < 0.1 && !r.history.length) return "Reading your drawings…";
      if (r.progress >= 0.85 || (epochs && r.history.length >= epochs)) return "Testing it on unseen drawings…";
      const epoch = r.history.length + 1;
      return `Training epoch ${epoch}${epochs ? ` of ${epochs}` : ""}`;
    }
    const took = r.finished && r.created ? (Date.parse(r.finished) - Date.parse(r.created)) / 1000 : NaN;
    const verb = r.status === "failed" ? "Stopped" : "Finished";
    return Number.isFinite(took) ? `${verb} after ${Math.max(1, Math.round(took))}\u00a0s` : verb;
  }

  /* Its place in the queue; a place that has not moved for a minute (timed by this page, not by the server's
     clock: the two may disagree) hints that no trainer is running. */
  function queued(r) {
    const position = typeof r.queue_position === "number" ? r.queue_position : null;
    if (queuedSeen.id !== r.id || queuedSeen.position !== position) {
      Object.assign(queuedSeen, { id: r.id, position, at: Date.now() });
    }
    if (Date.now() - queuedSeen.at >= LONG_QUEUE_MS) {
      return "Still queued — the trainer may not be running; tell whoever runs this site";
    }
    if (position === 1) return "Next in line";
    if (position > 1) return `Waiting: ${plural(position - 1, "run")} ahead of yours`;
    return "Queued — waiting for the trainer";
  }

  function finished({ live }) {
    if (live) followed = run.id;
    showFinished();
    announceTested();
    if (live) {
      root.dispatchEvent(new CustomEvent("train:finished", { detail: { run } }));
      pad.announce(ui.outcomeTitle.textContent);
    }
  }

  /* The finished run's outcome, worded for the model that reads now (shown again when that changes). */
  function showFinished() {
    const metrics = run.metrics || {};
    const { personal, shared } = model.state();
    const still = personal && personal.enabled ? `${model.yours(personal)} still reads your drawings.`
      : `The shared model${shared.version === null ? "" : ` v${shared.version}`} still reads your drawings.`;
    if (run.status === "succeeded") {
      showOutcome(...madeModel(personal), { metrics, note: learnt(metrics) });
    } else if (run.status === "rejected") {
      showOutcome("warn", "Your model did not change:", {
        detail: metrics.gate || "the new one did not pass the quality check.", metrics,
        note: `The new one was not used. ${still}`,
      });
    } else {
      showOutcome("error", "Training failed:", {
        detail: run.error || "the trainer gave no reason.", note: `Your model did not change. ${still}`,
      });
    }
    outcomeRun = run.id;
  }

  /* [kind, title] for a run that made a model: is it the one reading now? */
  function madeModel(personal) {
    const version = run.model_version;
    const current = personal && version !== null && personal.version === version;
    const made = model.yours({ number: run.model_number });   // "Your model #2"
    if ((current && personal.enabled) || (followed === run.id && !personal)) {
      return ["ok", `${made} now reads your drawings`];   // or will, once model.js has asked
    }
    if (current) return ["info", `${made} is switched off: the shared model reads your drawings`];
    if (!personal || version === null) return ["info", `Run ${run.id} made a model that you have since deleted`];
    return ["info", `Run ${run.id} made ${made.toLowerCase()}; ${model.yours(personal).toLowerCase()} has replaced it`];
  }

  function learnt(metrics) {
    const held = (metrics.held_out || {}).count || 0;
    const trained = typeof metrics.trained_on === "number" ? metrics.trained_on : run.samples;
    const aside = held ? `; ${held} more kept aside to test it` : "";
    const from = run.parent_version ? ` Built on shared model v${run.parent_version}.` : "";
    return typeof trained === "number" ? `Trained on ${trained} of your drawings${aside}.${from}` : from.trim();
  }

  /* The last run tested two models on the drawings it kept aside: the shared one it started from (before) and the
     one it made (after). The figures hold for whichever of the two reads now; for any other model, none do. */
  function announceTested() {
    const perDigit = run && !isOpen(run) && run.metrics && run.metrics.held_out && run.metrics.held_out.per_digit;
    const { serving } = model.state();
    let which = null;
    if (perDigit && serving.version !== null) {
      if (serving.personal && serving.version === run.model_version) which = "after";
      else if (!serving.personal && serving.version === run.parent_version) which = "before";
    }
    const digits = which === null ? null : Object.fromEntries(Object.entries(perDigit)
      .filter(([, d]) => d && d.count > 0 && typeof d[which] === "number")
      .map(([digit, d]) => [digit, { count: d.count, right: Math.round(d[which] * d.count) }]));
    root.dispatchEvent(new CustomEvent("train:tested", { detail: { digits } }));
  }

  /* ---------- Outcome: before and after ---------- */

  /* The title in bold, then the server's explanation (detail) in plain text; before/after rows when measured. */
  function showOutcome(kind, title, { detail = "", metrics = null, note = "" } = {}) {
    outcomeRun = null;
    ui.outcome.hidden = false;
    ui.outcome.dataset.kind = kind;
    ui.outcomeTitle.replaceChildren(span("outcome__headline", title));
    if (detail) ui.outcomeTitle.append(" ", span("outcome__detail", detail));
    ui.outcomeNote.textContent = note;
    ui.outcomeNote.hidden = !note;
    showMeasures(metrics || {});
  }

  /* Held-out drawings overall and per digit (or why there are none), those of them taken for a digit at all when
     some were called no digit, and MNIST validation. */
  function showMeasures({ held_out: held, mnist_validation: validation }) {
    const rows = [];
    if (held && held.count > 0) {
      rows.push(comparison(`${plural(held.count, "drawing")} it did not train on`, held.before, held.after, 1));
      const refused = held.not_a_digit;
      if (refused && typeof refused.after === "number" && (refused.before > 0 || refused.after > 0)) {
        rows.push(comparison("… taken for a digit at all", 1 - refused.before, 1 - refused.after, 1));
      }
    }
    if (validation && typeof validation.before === "number") {
      const count = typeof validation.count === "number" ? ` (${validation.count.toLocaleString("en")} digits)` : "";
      rows.push(comparison(`MNIST validation${count}`, validation.before, validation.after, 2));
    }
    ui.outcomeTable.replaceChildren(...rows);
    ui.outcomeTable.hidden = rows.length === 0;
    ui.unmeasured.hidden = !(held && held.count === 0);
    const { holdoutMinPerDigit: least, holdoutFraction: fraction } = root.dataset;   // training's rule
    ui.unmeasured.textContent = "Too few drawings to hold any out, so it was not tested on drawings it had not "
      + `seen. Save at least ${least} of a digit: ${Math.round(100 * fraction)} % of them are then kept aside to `
      + "test each run.";
    const digits = Object.entries((held && held.per_digit) || {})
      .filter(([, d]) => d && d.count > 0).sort(([a], [b]) => Number(a) - Number(b));
    ui.digitRows.replaceChildren(...digits.map(([digit, d]) => digitRow(digit, d)));
    ui.digits.hidden = digits.length === 0;
  }

  function digitRow(digit, { count, before, after }) {
    const row = document.createElement("tr");
    const head = document.createElement("th");
    head.scope = "row";
    head.append(span("digits__digit", digit), span("digits__count", ` ${plural(count, "drawing")}`));
    row.append(head, score(before, count), score(after, count, before));
    return row;
  }

  /* "2 of 3" over a bar as long as the share right; the after column is coloured by its change. */
  function score(fraction, count, before = null) {
    const cell = document.createElement("td");
    const right = Math.round(fraction * count);
    cell.className = `digits__score${before === null ? "" : trend(fraction, before)}`;
    cell.style.setProperty("--p", String(fraction));
    cell.setAttribute("aria-label", `${right} of ${count} right (${percent(fraction, 0)})`);
    cell.append(span("digits__bar", ""), span("digits__value", `${right}/${count}`));
    return cell;
  }

  const trend = (now, was) => (now > was ? " is-up" : now < was ? " is-down" : "");

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

  /* Held-out drawings: "40 %", "42.9 %"; MNIST always with two decimals: "99.64 %". */
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
  root.addEventListener("model:change", () => {
    if (run && outcomeRun === run.id) showFinished();   // worded for the model that reads now
    announceTested();
    updateButton();
  });
  root.addEventListener("train:request", onRequest);
  root.addEventListener("data:deleted", forgetRuns);
  new ResizeObserver(() => { if (!ui.live.hidden) drawChart(); }).observe(ui.live);

  ui.card.hidden = false;
  updateButton();
  refresh({ initial: true }).finally(() => { root.dataset.trainReady = "true"; });
})();
