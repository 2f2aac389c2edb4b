// A training run's admin page follows the run while it is queued or running: every 2 s it asks the admin for the
// run's news (TrainingRunAdmin.live_view, JSON) and puts the progress, the per-epoch chart and table and the
// results in place. Once the run has ended it reloads once, for its result, times and error.
// The admin loads it in the page's head (ModelAdmin.Media): it starts once the page is parsed.
(() => {
  "use strict";
  const EVERY_MS = 2000;

  async function follow(url) {
    let news;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      news = await response.json();
    } catch {
      setTimeout(follow, 3 * EVERY_MS, url);  // the site restarting, or the network: ask again, less often
      return;
    }
    for (const [name, html] of Object.entries(news.fields)) {
      const box = document.querySelector(`.field-${name} .readonly`);
      if (box) box.innerHTML = html;  // the admin's own markup, rendered by the same code as the page
    }
    if (news.open) setTimeout(follow, EVERY_MS, url);
    else location.reload();
  }

  function start() {
    const live = document.querySelector("[data-run-live]");
    if (live) setTimeout(follow, EVERY_MS, live.dataset.runLive);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
