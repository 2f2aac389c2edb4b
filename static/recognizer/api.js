/*
 * Shared by the page's scripts: JSON requests to the site's API, and one shape for every answer.
 *
 * request() resolves to {ok, status, data, error}: `error` is the API's own {"error": ...} text for refusals
 * (4xx) and a missing model (503), or a generic line for anything else, such as a dropped connection or a
 * proxy's HTML 502. It rejects only when the caller aborts. Changes (POST, DELETE) carry Django's CSRF token
 * from the csrftoken cookie that the page view sets.
 *
 * Also here, for every script on the page: onButton() (a click handler that ignores aria-disabled buttons),
 * isTyping() (whether a key press belongs to a form field), plural() and percent().
 */
(() => {
  "use strict";

  const NETWORK_ERROR = "Could not reach the server — check the connection and try again.";
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

  async function request(url, { method = "GET", body, signal, networkError = NETWORK_ERROR } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (!SAFE_METHODS.has(method)) headers["X-CSRFToken"] = csrfToken();
    let response;
    try {
      response = await fetch(url, {
        method, headers, signal, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      return { ok: false, status: 0, data: null, error: networkError };
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.ok) return { ok: true, status: response.status, data, error: null };
    const explained = data && typeof data.error === "string" && (response.status < 500 || response.status === 503);
    return { ok: false, status: response.status, data, error: explained ? data.error : networkError };
  }

  /* A click handler that runs action() unless the button is aria-disabled (such buttons stay focusable). */
  function onButton(action) {
    return (event) => {
      if (event.currentTarget.getAttribute("aria-disabled") === "true") return;
      action();
    };
  }

  /* Whether a key press is meant for a form field, so the page's keyboard shortcuts leave it alone. */
  function isTyping(event) {
    const target = event.target;
    return Boolean(target && target.closest && target.closest("input, textarea, select, [contenteditable]"));
  }

  /* "1 sample", "3 samples". */
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  /* 0.4 → "40.0 %" with trailing zeros kept, or "40 %" with { trim: true }; a no-break space before the sign. */
  function percent(fraction, digits = 1, { trim = false } = {}) {
    const text = (fraction * 100).toFixed(digits);
    return `${trim ? String(Number(text)) : text}\u00a0%`;
  }

  window.mnistsite = Object.assign(window.mnistsite || {}, {
    api: { request, NETWORK_ERROR, onButton, isTyping, plural, percent },
  });
})();
