// Settings › Calendar sync: "Sync everything again" (POST /api/v1/calendar-sync/resync?wait=true).
// The whole calendar is listed anew and every pair weighed again; the answer is the run's summary.
(function () {
  "use strict";
  var button = document.getElementById("resync");
  var out = document.getElementById("resync-result");
  if (!button || !out) return;
  var t = calsync.t;

  function summary(run) {
    var words = { ok: t("done"), busy: t("a sync is running already: try again in a minute"),
      needs_confirmation: t("waiting for your confirmation"), auth_error: t("cannot sign in to the calendar"),
      provider_error: t("the calendar server failed"), paused: t("sync is stopped") };
    return t("Sync everything again: {result} — {pulled} from the calendar, {pushed} to the calendar, {deleted} deleted.", {
      result: words[run.status] || run.status, pulled: run.pulled, pushed: run.pushed, deleted: run.deleted
    }) + (run.message && run.status !== "ok" ? " " + run.message : "");
  }

  button.addEventListener("click", async function () {
    button.disabled = true;
    out.className = "hint";
    out.textContent = t("Syncing everything again…");
    var result = await calsync.api("POST", "/api/v1/calendar-sync/resync?wait=true");
    button.disabled = false;
    if (!result.ok) {
      out.className = "error";
      out.textContent = t("Sync everything again failed: {error}", { error: calsync.errorText(result) });
      return;
    }
    var run = result.body.data;
    out.className = run.status === "ok" ? "ok" : "error";
    out.textContent = summary(run);
    var refresh = document.getElementById("refresh-log");
    if (refresh) refresh.click();  // the run log shows the run (trigger "resync")
  });
})();
