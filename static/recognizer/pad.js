/*
 * The drawing pad: a pointer-driven canvas, its tools and keys, and what reads it (window.mnistsite.pad).
 *
 * Strokes are kept as arrays of points in units of the pad's height (y 0..1, x 0..aspect), so undo and resizing
 * simply redraw them. The pad is square for one digit and wide for a number: its shape is the stylesheet's (the
 * canvas's CSS aspect ratio), and the line is as thick in either. The canvas background stays transparent: the
 * server reads the alpha channel as ink. What is sent is the same strokes redrawn SEND_SIDE pixels high (and as
 * wide as the pad's shape makes it), whatever the screen's pixel density: a phone's 3x canvas would be nine times
 * the pixels to upload and decode, for a digit the network sees at 20 px anyway.
 * The pad is read as the person draws, through predictor.js (debounced; only the newest request's answer shown). Any
 * change of the drawing (a point added mid-stroke, a stroke, undo, clear, a picture) cancels what is on its way: an
 * answer is shown only while the pad still holds what it read, so a late one never stands for a drawing the person
 * has since changed. Answers are shown in the result panel by result.js.
 * Instead of strokes the pad can hold a picture (upload.js: a file chosen or dropped): once the server has read
 * it, it is shown scaled to fit and the file itself is what is sent, to predict and to save. Drawing replaces it:
 * the pad's status line says so, and Undo of the strokes drawn over it brings the picture back.
 * What reads the drawing is a reader: by default the one-digit reader (POST /api/predict, result.js's panel);
 * number.js swaps in its own with pad.setReader() (its URL, its panel, its words), which clears the pad.
 *
 * model.js, samples.js and training.js use the pad through window.mnistsite.pad and listen for two events on
 * #recognizer: "pad:change" (the drawing changed; detail.empty, and detail.picture: whether it is a picture now;
 * also sent when a stroke goes on after a reading of it was shown) and "pad:state" (the result panel changed:
 * result.js says what it carries).
 * The pad's keys act only while it, its tools or the label buttons have focus (api.isShortcut).
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, result, predictor } = window.mnistsite || {};
  if (!root || !api || !result || !predictor) return;

  const LINE_WIDTH = 1 / 14;      // of the pad's height: about MNIST's stroke once a digit is scaled to 20 px
  const SEND_SIDE = 280;          // pixels high of the image sent for prediction and kept as a sample
  const INK = "#111827";

  const $ = (id) => document.getElementById(id);
  const canvas = $("pad-canvas");
  const PAD_LABEL = canvas.getAttribute("aria-label");
  const ui = {
    undo: $("undo-button"), clear: $("clear-button"), predict: $("predict-button"),
    placeholder: $("pad-placeholder"), strokeCount: $("stroke-count"), padStatus: $("pad-status"),
  };
  const { plural } = api;
  const { announce } = result;

  /* ---------- Drawing ---------- */

  const strokes = [];             // each stroke: [{x, y}, ...] in canvas units
  let picture = null;             // an uploaded picture shown instead of strokes: {file, image}
  let replaced = null;            // the picture the strokes on the pad were drawn over: Undo brings it back
  let revision = 0;               // goes up with every change, so others can tell whether a snapshot is current
  let shownRevision = null;       // the revision of the drawing whose answer is on show
  let activeStroke = null;
  let activePointer = null;
  let frameRequested = false;

  let aspect = 1;                 // the pad's width over its height, as the stylesheet shapes it

  function fitCanvas() {
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const [width, height] = [Math.max(1, Math.round(box.width * ratio)), Math.max(1, Math.round(box.height * ratio))];
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const shape = box.height > 0 ? box.width / box.height : 1;
    const reshaped = Math.abs(shape - aspect) > 0.01;
    aspect = shape;
    redraw();
    // Another shape sends another image: boxes the server found in the old one would no longer fit it.
    if (reshaped && !isEmpty() && !activeStroke) predictNow();
  }

  /* Browser zoom and moving to another screen change the pixel ratio without resizing the canvas. */
  function watchPixelRatio() {
    const query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    query.addEventListener("change", () => { fitCanvas(); watchPixelRatio(); }, { once: true });
  }

  function traceStroke(context, points, side) {   // side: the height in pixels, the unit of the points
    const at = (p) => [p.x * side, p.y * side];
    if (points.length === 1) {
      context.beginPath();
      context.arc(...at(points[0]), (LINE_WIDTH * side) / 2, 0, Math.PI * 2);
      context.fill();
      return;
    }
    context.beginPath();
    context.moveTo(...at(points[0]));
    // Quadratic curves through the midpoints of successive points: smooth, and still passes near every sample.
    for (let i = 1; i < points.length - 1; i += 1) {
      const mid = { x: (points[i].x + points[i + 1].x) / 2, y: (points[i].y + points[i + 1].y) / 2 };
      context.quadraticCurveTo(...at(points[i]), ...at(mid));
    }
    context.lineTo(...at(points[points.length - 1]));
    context.stroke();
  }

  /* Where the picture sits on a pad of this shape, in units of its height: scaled to fit and centred. */
  function pictureFit() {
    const { image } = picture;
    const scale = Math.min(aspect / image.width, 1 / image.height);
    return { scale, left: (aspect - image.width * scale) / 2, top: (1 - image.height * scale) / 2 };
  }

  /* The picture on the pad; pixels stay sharp when it is enlarged (a 28x28 digit). */
  function paintPicture(context, side) {
    const { image } = picture;
    const { scale, left, top } = pictureFit();
    context.imageSmoothingEnabled = scale * side < 1;
    context.drawImage(image, left * side, top * side, image.width * scale * side, image.height * scale * side);
  }

  /* Draw every stroke (or the picture) on a transparent canvas of the pad's shape, of any size. */
  function paint(target) {
    const context = target.getContext("2d");
    const side = target.height;
    context.clearRect(0, 0, target.width, side);
    if (picture) {
      paintPicture(context, side);
      return;
    }
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = LINE_WIDTH * side;
    context.strokeStyle = INK;
    context.fillStyle = INK;
    strokes.forEach((points) => traceStroke(context, points, side));
  }

  function redraw() {
    frameRequested = false;
    paint(canvas);
  }

  const sendCanvas = document.createElement("canvas");
  sendCanvas.height = SEND_SIDE;
  const sendWidth = () => Math.max(1, Math.round(SEND_SIDE * aspect));

  /* What is sent to the server: the uploaded file as it is, or the strokes SEND_SIDE pixels high as a PNG data URL. */
  function fieldsToSend() {
    if (picture) return { file: picture.file };
    sendCanvas.width = sendWidth();
    paint(sendCanvas);
    return { image: sendCanvas.toDataURL("image/png") };
  }

  /*
   * A box [x, y, w, h] the server found in what was sent, as fractions of the pad's width and height ({left, top,
   * width, height}), for the drawing or picture on the pad now: the strokes were sent at SEND_SIDE pixels high,
   * a picture as its own file, shown scaled to fit.
   */
  function placeBox([x, y, w, h]) {
    if (picture) {
      const { scale, left, top } = pictureFit();
      return { left: (left + x * scale) / aspect, top: top + y * scale,
               width: (w * scale) / aspect, height: h * scale };
    }
    const width = sendWidth();
    return { left: x / width, top: y / SEND_SIDE, width: w / width, height: h / SEND_SIDE };
  }

  const isEmpty = () => strokes.length === 0 && picture === null;

  function requestRedraw() {
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(redraw);
    }
  }

  function pointFrom(event) {
    const box = canvas.getBoundingClientRect();
    const clamp = (v, most) => Math.min(most, Math.max(0, v));
    return { x: clamp((event.clientX - box.left) / box.height, aspect),
             y: clamp((event.clientY - box.top) / box.height, 1) };
  }

  function onPointerDown(event) {
    // One stroke at a time; only the main button, a finger or a pen tip draws (not a pen's eraser or barrel).
    if (activeStroke || event.button !== 0) return;
    event.preventDefault();
    try {
      canvas.setPointerCapture(event.pointerId);   // keep the stroke when the pointer leaves the pad
    } catch (error) {
      // The pointer is already gone (a very quick tap): the stroke still ends on pointerup.
    }
    canvas.focus({ preventScroll: true });   // the pad's keys act while it has focus: Escape after drawing clears
    activePointer = event.pointerId;
    const drawnOver = picture;
    if (drawnOver) replaced = drawnOver;   // drawing starts afresh over an uploaded picture, kept for Undo
    picture = null;
    activeStroke = [pointFrom(event)];
    strokes.push(activeStroke);
    drawingChanged();
    requestRedraw();
    if (drawnOver) sayAtPad("Your drawing replaced the picture — Undo brings it back.", "note");
  }

  function onPointerMove(event) {
    if (event.pointerId !== activePointer) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    const minStep = 0.5 / canvas.getBoundingClientRect().height;   // skip moves under half a CSS pixel
    const before = activeStroke.length;
    for (const sample of events.length ? events : [event]) {
      const point = pointFrom(sample);
      const last = activeStroke[activeStroke.length - 1];
      if (Math.hypot(point.x - last.x, point.y - last.y) >= minStep) activeStroke.push(point);
    }
    if (activeStroke.length > before) {
      // New ink: an answer on its way is stale, and one on show (read while the pen rested) is out of date.
      const wasShown = shownRevision === revision;
      edited();
      if (wasShown) padChanged();
    }
    requestRedraw();
    schedulePrediction();
  }

  function onPointerEnd(event) {
    if (event.pointerId !== activePointer) return;
    activePointer = null;   // pointerup and pointercancel release the capture themselves
    activeStroke = null;
    redraw();
    predictNow();   // a cancelled touch keeps what it drew so far; Undo removes it
  }

  function undo() {
    if (activeStroke || isEmpty()) return;
    let restored = false;
    if (picture) {
      picture = null;
    } else {
      strokes.pop();
      if (!strokes.length && replaced) [picture, replaced, restored] = [replaced, null, true];
    }
    drawingChanged();
    redraw();
    if (restored) sayAtPad("The picture is back.", "ok");
    if (!isEmpty()) predictNow();
    else announce("Drawing cleared.");
  }

  function reset() {
    strokes.length = 0;
    picture = null;
    replaced = null;
    drawingChanged();
    redraw();
  }

  function clear() {
    if (activeStroke || isEmpty()) return;
    reset();
    announce("Drawing cleared.");
  }

  /* The drawing is no longer what any answer on its way read: those are stale, and their requests aborted. */
  function edited() {
    revision += 1;
    predictor.cancel();
  }

  function padChanged() {
    root.dispatchEvent(new CustomEvent("pad:change", { detail: { empty: isEmpty(), picture: picture !== null } }));
  }

  /* Buttons, placeholder and result follow the drawing; an empty pad never calls the API. */
  function drawingChanged() {
    const empty = isEmpty();
    edited();
    ui.placeholder.hidden = !empty;
    ui.strokeCount.textContent = picture ? "Picture" : empty ? "Empty" : plural(strokes.length, "stroke");
    const shown = picture ? ` It shows the picture ${picture.file.name || "you chose"}.` : "";
    canvas.setAttribute("aria-label", `${reader.label}${shown}`);
    ui.undo.setAttribute("aria-disabled", String(empty));
    ui.clear.setAttribute("aria-disabled", String(empty));
    ui.predict.setAttribute("aria-disabled", String(empty));
    if (empty) result.showState(reader, "idle");
    // A refusal was about an earlier file, and "replaced the picture" holds only while Undo can bring it back.
    clearPadStatus("error", ...(replaced ? [] : ["note"]));
    padChanged();
  }

  /* The pad's status line (#pad-status), under its tools: seen with the drawing, and said. */
  function sayAtPad(text, kind) {
    api.statusLine(ui.padStatus, announce)(text, kind);
  }

  function clearPadStatus(...kinds) {
    if (!kinds.includes(ui.padStatus.dataset.kind)) return;
    ui.padStatus.textContent = "";
    ui.padStatus.dataset.kind = "";
  }

  /* ---------- Reading it ---------- */

  /* The reader of one digit: /api/predict, shown in the result panel. */
  const digitReader = { name: "digit", url: root.dataset.predictUrl, label: PAD_LABEL, ...result.digitPanel };
  let reader = digitReader;

  /*
   * Read drawings with another reader from now on ({name, url, label (the pad's), body (its panel), accepts(data),
   * show(data) → {digit, verdict, guess, spoken}}), or with the digit reader again (null). The pad is cleared: a
   * drawing made for one reader means nothing to the other, and the pad's shape may change with it.
   */
  function setReader(next) {
    const chosen = next || digitReader;
    if (chosen === reader) return;
    activeStroke = null;   // a stroke under way is dropped with the rest
    activePointer = null;
    reader.body.hidden = true;
    reader = chosen;
    reset();
    fitCanvas();
  }

  function schedulePrediction() {
    predictor.schedule(predictNow);
  }

  function predictNow() {
    predictor.cancel();
    if (isEmpty()) return Promise.resolve();
    return predictor.ask(reader, fieldsToSend(),
                         (answer) => (answer.ok ? showAnswer(answer.data) : result.showMessage(reader, answer.error)));
  }

  /* An answer the reader accepted, about the drawing as it is now: said unless a stroke is under way. */
  function showAnswer(data) {
    shownRevision = revision;
    result.showAnswer(reader, data, { say: !activeStroke });
  }

  /* ---------- Keyboard and buttons ---------- */

  function onKeyDown(event) {
    if (event.defaultPrevented || event.isComposing || event.altKey) return;
    if (!api.isShortcut(event)) return;
    const target = event.target;
    const key = (event.key || "").toLowerCase();
    const command = event.ctrlKey || event.metaKey;
    let action = null;
    if (command) {
      if (key === "z" && !event.shiftKey) action = undo;
    } else if (key === "escape" || key === "c") {
      action = clear;
    } else if (key === "u") {
      action = undo;
    } else if (key === "p" || (key === "enter" && !target.closest("button, a, summary"))) {
      action = predictNow;   // Enter on a focused button presses that button instead
    }
    if (action) {
      event.preventDefault();
      action();
    }
  }

  /* ---------- An uploaded picture ---------- */

  /* The picture to show: the file decoded by the browser, or else the 28x28 the server made of it. */
  async function pictureImage(file, preprocessed) {
    try {
      return await createImageBitmap(file);
    } catch (error) {
      const image = new Image();
      image.src = preprocessed;
      await image.decode();
      return image;
    }
  }

  /*
   * Put a picture on the pad in place of the drawing, once the server has read it: resolves to the API's answer
   * ({ok, error} says why not, and the pad stays as it was), or null when a newer drawing or picture came first.
   */
  async function putPicture(file) {
    if (activeStroke) return { ok: false, error: "Finish the stroke first, then choose a picture." };
    const before = revision;
    let outcome = null;
    await predictor.ask(reader, { file }, async (answer, current) => {
      if (!answer.ok) {
        outcome = answer;
        return;
      }
      const image = await pictureImage(file, answer.data.preprocessed);
      if (!current() || revision !== before) return;   // drawing started meanwhile: it wins
      strokes.length = 0;
      replaced = null;
      picture = { file, image };
      drawingChanged();
      redraw();
      showAnswer(answer.data);
      outcome = answer;
    });
    return outcome;
  }

  /* ---------- For model.js, samples.js, training.js and upload.js ---------- */

  window.mnistsite.pad = {
    isEmpty,
    isDrawing: () => activeStroke !== null,
    /* What the pad holds, as fields to send ({image} or {file}), with its revision; null while empty or mid-stroke. */
    snapshot() {
      if (activeStroke || isEmpty()) return null;
      return { fields: fieldsToSend(), revision };
    },
    /* Clear the pad quietly, unless it changed since that snapshot (the person is drawing the next one). */
    clearIfUnchanged(snapshotRevision) {
      if (activeStroke || snapshotRevision !== revision) return false;
      reset();
      return true;
    },
    predict: predictNow,
    putPicture,
    announce,
    /* The status line at the pad: say(text, kind) as api.statusLine shows it; unsay(...kinds) clears those kinds. */
    say: sayAtPad,
    unsay: clearPadStatus,
    setReader,
    placeBox,
    /* Goes up with every change of the drawing: an answer shown for one revision is stale at the next. */
    revision: () => revision,
  };

  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerEnd);
  canvas.addEventListener("pointercancel", onPointerEnd);
  canvas.addEventListener("lostpointercapture", onPointerEnd);
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  ui.undo.addEventListener("click", api.onButton(undo));
  ui.clear.addEventListener("click", api.onButton(clear));
  ui.predict.addEventListener("click", api.onButton(predictNow));
  document.addEventListener("keydown", onKeyDown);
  new ResizeObserver(fitCanvas).observe(canvas);
  watchPixelRatio();

  fitCanvas();
  drawingChanged();
  root.dataset.ready = "true";
})();
