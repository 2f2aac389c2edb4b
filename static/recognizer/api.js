/*
 * Shared by the page's scripts: JSON requests to the site's API, and one shape for every answer.
 *
 * request() resolves to {ok, status, data, error}: `error` is the API's own {"error": ...} text for refusals
 * (4xx) and a missing model (503), or a generic line for anything else, such as a dropped connection or a
 * proxy's HTML 502. It rejects only when the caller aborts. Changes (POST, DELETE) carry Django's CSRF token
 * from the csrftoken cookie that the page view sets.
 */
(() => {
  "use strict";

  const NETWORK_ERROR = "Could not reach the server — check the connection and try again.";
  const SAFE_METHODS = new Set(["GET", "HEAD"]);

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
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

  window.mnistsite = Object.assign(window.mnistsite || {}, { api: { request, NETWORK_ERROR } });
})();
