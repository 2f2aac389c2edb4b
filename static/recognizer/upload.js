/*
 * A digit from a picture instead of a drawing, for anyone who cannot or would rather not draw: a file chosen with
 * the upload control (a keyboard reaches it like any other) or dropped on the pad goes to pad.putPicture(), which
 * sends it to /api/predict and, once the server has read it, shows it on the pad with its answer. From there it is
 * saved as a sample like a drawing. A file the server refuses leaves the pad as it was; the server's words are
 * shown where the file came from (under the control, or at the pad for a file dropped on it) and announced.
 */
(() => {
  "use strict";

  const root = document.getElementById("recognizer");
  const { api, pad } = window.mnistsite || {};
  if (!root || !api || !pad) return;

  const $ = (id) => document.getElementById(id);
  const ui = { box: $("upload"), input: $("upload-input"), status: $("upload-status"), surface: $("pad-surface") };

  function showStatus(text, kind = "") {
    ui.status.textContent = text;
    ui.status.dataset.kind = kind;
  }

  /* A file dropped on the pad is talked about at the pad, where the person is looking. */
  const atPad = {
    show: (text, kind) => pad.say(text, kind),
    done: () => pad.unsay("busy"),
  };
  const atControl = {
    show: (text, kind) => {
      showStatus(text, kind);
      if (kind === "error") pad.announce(text);
    },
    done: () => showStatus(""),
  };

  async function upload(file, where = atControl) {
    where.show(`Reading ${file.name || "the picture"}…`, "busy");
    const answer = await pad.putPicture(file);
    if (answer && !answer.ok) where.show(answer.error, "error");
    else where.done();   // on the pad now, and its answer announced; or a newer drawing came first
  }

  ui.input.addEventListener("change", () => {
    const [file] = ui.input.files;
    ui.input.value = "";   // so that choosing the same file again reads it again
    if (file) upload(file);
  });

  /* Dropping a file on the pad. Only drags that carry files are taken: a dragged link or text is not a picture. */
  const carriesFiles = (event) => Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
  const highlight = (on) => ui.surface.classList.toggle("is-drop-target", on);
  ["dragenter", "dragover"].forEach((type) => ui.surface.addEventListener(type, (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    highlight(true);
  }));
  ui.surface.addEventListener("dragleave", (event) => {
    if (!ui.surface.contains(event.relatedTarget)) highlight(false);
  });
  ui.surface.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    highlight(false);
    const [file] = event.dataTransfer.files;
    if (file) upload(file, atPad);
  });

  /* An error about an earlier file stops applying once the pad changes. */
  root.addEventListener("pad:change", () => {
    if (ui.status.dataset.kind === "error") showStatus("");
  });

  ui.box.hidden = false;
})();
