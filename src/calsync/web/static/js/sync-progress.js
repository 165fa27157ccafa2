// Settings › Calendar sync: while a sync runs (a long first import above all), show how far it has
// got — polled from GET /api/v1/calendar-sync/progress, which the engine's run row feeds as it
// goes. When a run ends (or a new one has started and ended between two polls) the page is told
// with a "calsync:runs-changed" event: the status and run log reload, htmx redraws the chart.
(function () {
  "use strict";
  var panel = document.getElementById("progress-panel");
  if (!panel) return;
  var text = document.getElementById("progress-text");
  var bar = document.getElementById("progress-bar");
  var RUNNING_EVERY = 1000, IDLE_EVERY = 5000; // ms between polls
  var number = new Intl.NumberFormat(document.documentElement.lang || "en");
  var lastRun = undefined, wasRunning = false, timer = null;

  var t = calsync.t; // the page's language (messages in locale/*/LC_MESSAGES/js.po)

  function describe(p) {
    var values = { done: number.format(p.done || 0), total: number.format(p.total || 0) };
    var known = p.total !== null && p.total !== undefined;
    if (p.phase === "reading") {
      return known ? t("Reading your calendar: {done} of {total} events so far", values) : t("Reading your calendar: {done} events so far", values);
    }
    if (p.phase === "importing") return t("Adding calendar events to the CRM: {done} of {total}", values);
    if (p.phase === "writing") return t("Writing activities to your calendar: {done} of {total}", values);
    return t("Starting the sync…");
  }

  function show(p) {
    panel.hidden = false;
    text.textContent = describe(p);
    panel.dataset.phase = p.phase || "starting";
    panel.dataset.done = String(p.done || 0);
    if (p.total) {
      bar.max = p.total;
      bar.value = Math.min(p.done || 0, p.total);
    } else {
      bar.removeAttribute("value"); // unknown total: the bar just moves
    }
  }

  function changed() {
    document.body.dispatchEvent(new CustomEvent("calsync:runs-changed"));
  }

  async function poll() {
    clearTimeout(timer);
    var result = await calsync.api("GET", "/api/v1/calendar-sync/progress");
    var data = result.ok ? (result.body.data || {}) : {};
    if (data.running) show(data);
    else panel.hidden = true;
    var moved = lastRun !== undefined && data.latest_run_id !== lastRun && !data.running;
    if ((wasRunning && !data.running) || moved) changed();
    if (result.ok) {
      lastRun = data.latest_run_id;
      wasRunning = !!data.running;
    }
    timer = setTimeout(poll, data.running ? RUNNING_EVERY : IDLE_EVERY);
  }

  // a run the user starts here is watched from its first moment
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("#sync-now, #start, #confirm-deletions")) setTimeout(poll, 200);
  });
  document.addEventListener("submit", function (event) {
    if (event.target && event.target.id === "connect-caldav") setTimeout(poll, 500); // a first import starts
  });
  poll();
})();
