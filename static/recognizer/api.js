/*
 * Shared by the page's scripts: JSON requests to the site's API, and one shape for every answer.
 *
 * request() resolves to {ok, status, data, error}: `error` is the API's own {"error": ...} text when it sent
 * one, else a line for the status (a proxy's HTML 429 or 502), for no answer within TIMEOUT_MS, or for a dropped
 * connection. It rejects only when the caller aborts. Changes (POST, DELETE) carry Django's CSRF token from the
 * csrftoken cookie that the page view sets. A body is sent as JSON, or as multipart form data when one of its
 * values is a file (an uploaded picture).
 *
 * Also here, for every script on the page: onButton() (a click handler that ignores aria-disabled buttons),
 * isShortcut() (whether a key press may act as one of the pad's keyboard shortcuts), askInline() (the page's one
 * way to ask before deleting something), plural() and percent().
 */
(() => {
  "use strict";

  const NETWORK_ERROR = "Could not reach the server — check the connection and try again.";
  const TIMEOUT_MS = 15000;       // a request with no answer by then is given up: the page says so, not spins
  const TIMEOUT_ERROR = "The server did not answer in time — try again.";
  const BUSY_ERROR = "The server is busy or restarting — try again in a moment.";
  // For answers without the API's own words (a proxy or load balancer in front of the site sent them).
  const STATUS_ERRORS = {
    413: "That is too much to send at once.",
    429: "Too many requests in a short time — wait a few seconds, then try again.",
    502: BUSY_ERROR, 503: BUSY_ERROR, 504: BUSY_ERROR,
  };
  const SAFE_METHODS = new Set(["GET", "HEAD"]);

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (!match) return "";
    try {
      return decodeURIComponent(match[1]);
    } catch (error) {
      return match[1];   // malformed escapes: send it as it is, so request() still never rejects for this
    }
  }

  /* {file: File, label: 7} as multipart form data (the browser writes its Content-Type); anything else as JSON. */
  function encode(body, headers) {
    if (!Object.values(body).some((value) => value instanceof Blob)) {
      headers["Content-Type"] = "application/json";
      return JSON.stringify(body);
    }
    const form = new FormData();
    Object.entries(body).forEach(([name, value]) => form.append(name, value instanceof Blob ? value : String(value)));
    return form;
  }

  async function request(url, { method = "GET", body, signal, networkError = NETWORK_ERROR } = {}) {
    const headers = { Accept: "application/json" };
    const payload = body === undefined ? undefined : encode(body, headers);
    if (!SAFE_METHODS.has(method)) headers["X-CSRFToken"] = csrfToken();
    // One controller for both ways a request ends early: the caller's signal, and the timeout.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, TIMEOUT_MS);
    const forward = () => controller.abort();
    if (signal) {
      if (signal.aborted) controller.abort();
      signal.addEventListener("abort", forward);
    }
    try {
      let response;
      try {
        response = await fetch(url, {
          method, headers, signal: controller.signal, credentials: "same-origin",
          body: payload,
        });
      } catch (error) {
        if (error.name === "AbortError" && !timedOut) throw error;
        return { ok: false, status: 0, data: null, error: timedOut ? TIMEOUT_ERROR : networkError };
      }
      const data = response.status === 204 ? null : await response.json().catch(() => null);
      if (timedOut) return { ok: false, status: 0, data: null, error: TIMEOUT_ERROR };
      // Aborted while its body was read: superseded as surely as before the answer came, never an answer.
      if (controller.signal.aborted) throw new DOMException("The request was aborted.", "AbortError");
      if (response.ok) return { ok: true, status: response.status, data, error: null };
      const error = data && typeof data.error === "string" ? data.error
        : STATUS_ERRORS[response.status] || networkError;
      return { ok: false, status: response.status, data, error };
    } finally {
      clearTimeout(timer);
      if (signal) signal.removeEventListener("abort", forward);
    }
  }

  /* A click handler that runs action() unless the button is aria-disabled (such buttons stay focusable). */
  function onButton(action) {
    return (event) => {
      if (event.currentTarget.getAttribute("aria-disabled") === "true") return;
      action();
    };
  }

  /*
   * Whether a key press may act as one of the pad's shortcuts: only while focus is on the pad, its tools or the
   * label buttons (the elements marked data-shortcuts), never in a form field. Single keys that act anywhere on
   * the page would fire from a speech-input user's words or a stray key on the Train button (WCAG 2.1.4).
   */
  function isShortcut(event) {
    const target = event.target;
    if (!target || !target.closest) return false;
    return Boolean(target.closest("[data-shortcuts]")) && !target.closest("input, textarea, select, [contenteditable]");
  }

  function button(text, className) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = text;
    return element;
  }

  /*
   * Ask before deleting, inline (never window.confirm): a question, optional extra controls (a checkbox), and
   * two buttons, all inside `into` and only while it is asked; `hide` is hidden meanwhile. Escape or the no
   * button (named `no`, by default Cancel) says no. act() runs on yes and resolves to true when done (the
   * question closes) or false (it stays, to try again). Focus goes to the no button, and afterwards to
   * focusAfter() (by default the first of `hide`); onClose() runs once the question is gone.
   */
  function askInline({ into, id, question, yes: yesText, no: noText = "Cancel", act, extra = [], hide = [],
                       focusAfter = () => hide[0], onClose = () => {} }) {
    if (into.querySelector(".confirm")) return null;
    const box = document.createElement("div");
    box.className = "confirm";
    box.setAttribute("role", "group");
    box.setAttribute("aria-labelledby", id);
    const text = document.createElement("p");
    text.className = "confirm__text";
    text.id = id;
    text.textContent = question;
    const yes = button(yesText, "button button--small button--danger");
    const no = button(noText, "button button--small");
    box.append(text, ...extra, yes, no);

    const close = () => {
      box.remove();
      hide.forEach((element) => { element.hidden = false; });
      onClose();
      const next = focusAfter();
      if (next && !next.hidden) next.focus();
    };
    no.addEventListener("click", close);
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();   // the pad's own Escape (clear the drawing) stays out of it
        close();
      }
    });
    yes.addEventListener("click", async () => {
      if (yes.getAttribute("aria-disabled") === "true") return;
      yes.setAttribute("aria-disabled", "true");
      if (await act()) close();
      else yes.removeAttribute("aria-disabled");
    });

    hide.forEach((element) => { element.hidden = true; });
    into.append(box);
    no.focus();
    return box;
  }

  /* A status line under some controls: show(text, kind, spoken) puts text in it and has it said through announce
     (all but "busy"); "ok" fades after OK_MESSAGE_MS, errors stay until the next message. One per element, so
     scripts that share a line share its timer. */
  const OK_MESSAGE_MS = 4000;
  const statusLines = new WeakMap();
  function statusLine(element, announce) {
    if (!statusLines.has(element)) {
      let timer = null;
      statusLines.set(element, (text, kind, spoken = text) => {
        clearTimeout(timer);
        element.textContent = text;
        element.dataset.kind = kind;
        if (kind !== "busy") announce(spoken);
        if (kind === "ok") {
          timer = setTimeout(() => { element.textContent = ""; element.dataset.kind = ""; }, OK_MESSAGE_MS);
        }
      });
    }
    return statusLines.get(element);
  }

  /* "1 sample", "3 samples". */
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  /*
   * 0.4 → "40.0 %" with trailing zeros kept, or "40 %" with { trim: true }; a no-break space before the sign. The
   * page's one rounding of a share: a confidence reads the same in the result, the pad's tag, the number's boxes
   * and what is said (all with the default digits), and nothing short of certain reads as certain: 0.9996 is
   * "99.9 %", never "100.0 %".
   */
  function percent(fraction, digits = 1, { trim = false } = {}) {
    const step = 10 ** -digits;
    const shown = fraction < 1 ? Math.min(fraction * 100, 100 - step) : fraction * 100;
    const text = shown.toFixed(digits);
    return `${trim ? String(Number(text)) : text}\u00a0%`;
  }

  window.mnistsite = Object.assign(window.mnistsite || {}, {
    api: { request, NETWORK_ERROR, onButton, isShortcut, askInline, statusLine, plural, percent },
  });
})();
