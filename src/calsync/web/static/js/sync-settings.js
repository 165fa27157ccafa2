// Settings › Calendar sync: drives /api/v1/calendar-sync. Every setting saves on change
// (PATCH) and shows "Saved" next to it; connect, start, stop, sync now, disconnect, log.
(function () {
  "use strict";
  var BASE = "/api/v1/calendar-sync";
  var config = JSON.parse(document.getElementById("sync-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var state = null; // the last GET /api/v1/calendar-sync data (null = not connected)
  var switching = false;
  var t = calsync.t; // the page's language (common.js; messages in locale/*/LC_MESSAGES/js.po)

  var STATES = {
    active: [t("Active"), t("syncing automatically after every change and on a schedule.")],
    syncing: [t("Syncing"), t("a sync is running now.")],
    paused: [t("Stopped"), t("sync is stopped: press Start to resume.")],
    needs_confirmation: [t("Waiting for your confirmation"), t("the last sync would delete many activities: confirm or cancel below.")],
    auth_error: [t("Cannot sign in"), t("the calendar server refused your credentials: reconnect your account (Switch account) with a valid app password.")],
    choose_calendar: [t("Choose a calendar"), t("connected: pick the calendar to sync with (above); the first sync starts then.")],
    provider_error: [t("Calendar server error"), t("the server failed; sync retries on its own. If it keeps failing, check the server URL or reconnect your account.")],
  };

  function sentence(text) {
    if (!text) return "";
    text = String(text).trim();
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + ".";
  }

  function when(value) {
    if (!value) return t("never");
    return calsync.formatInstant(value);
  }

  function showSaved(field, ok, message) {
    document.querySelectorAll('[data-saved-for="' + field + '"]').forEach(function (mark) {
      mark.textContent = ok ? t("Saved") : t("Not saved: {message}", { message: message });
      mark.classList.toggle("bad", !ok);
      mark.classList.add("show");
      clearTimeout(mark._timer);
      if (ok) mark._timer = setTimeout(function () { mark.classList.remove("show"); }, 4000);
    });
  }

  async function save(field, value) {
    var body = {};
    body[field] = value;
    var result = await calsync.api("PATCH", BASE, body);
    if (result.ok) {
      if (result.body && result.body.data) { state = result.body.data; renderStatus(); }
      showSaved(field, true);
    } else {
      showSaved(field, false, calsync.errorText(result));
      await load(); // put the form back to what is stored
    }
  }

  function isConnected(data) {
    return !!data && data.connected === true;
  }

  async function load() {
    var result = await calsync.api("GET", BASE);
    if (!result.ok && result.status !== 404) {
      $("load-error").textContent = t("Could not read your calendar sync: {error}", { error: calsync.errorText(result) });
      $("load-error").hidden = false;
      return;
    }
    $("load-error").hidden = true;
    state = result.ok ? (result.body.data || null) : null;
    render();
  }

  function render() {
    var connected = isConnected(state);
    $("status-panel").hidden = !connected;
    $("settings-panel").hidden = !connected;
    $("log-panel").hidden = !connected;
    $("connect-panel").hidden = connected && !switching;
    $("connect-title").textContent = connected ? t("Switch to another account") : t("Connect a calendar");
    $("cancel-switch").hidden = !(connected && switching);
    $("choose-panel").hidden = !connected || state.state !== "choose_calendar";
    if (!connected) { $("confirm-panel").hidden = true; return; }
    renderStatus();
    renderSettings();
    loadCalendars();
    loadLog();
  }

  // The name of the provider's sign-in button (Google Calendar, Microsoft 365...), when the
  // account's provider connects through OAuth on this server; else null.
  function oauthLabel(provider) {
    if (!provider) return null;
    var entries = document.querySelectorAll('#providers .provider[data-kind="oauth"]');
    for (var i = 0; i < entries.length; i++) {
      if (entries[i].dataset.provider === provider) return entries[i].dataset.label;
    }
    return null;
  }

  function renderStatus() {
    var s = state;
    $("s-account").textContent = (s.account || "") + (s.provider ? " (" + s.provider + ")" : "");
    $("s-calendar").textContent = s.calendar_name || s.calendar_id || t("none chosen yet");
    var words = STATES[s.state] || [s.state || t("unknown"), ""];
    var label = oauthLabel(s.provider);
    if (s.state === "auth_error" && label) {
      words = [t("Cannot sign in"), t("{name} no longer accepts calsync's access (expired or revoked): reconnect with “Switch account”, then “Connect {name}”.", {name: label})];
    }
    var stateEl = $("s-state");
    stateEl.textContent = words[0] + (words[1] ? " — " + words[1] : "");
    stateEl.className = "state state-" + (s.state || "");
    stateEl.dataset.state = s.state || "";
    $("s-last-success").textContent = when(s.last_success_at);
    var lastError = s.last_error ? sentence(s.last_error) + (s.last_error_at ? " (" + when(s.last_error_at) + ")" : "") : t("none");
    if (s.last_error && s.state === "auth_error") lastError += " — " + t("reconnect your account.");
    $("s-last-error").textContent = lastError;
    var arrive = s.changes_arrive;
    $("freshness-row").hidden = !arrive;
    $("s-freshness").dataset.within = arrive ? arrive.within : "";
    $("s-freshness").textContent = !arrive ? ""
      : arrive.within === "seconds" ? t("Changes in your calendar arrive within seconds.")
      : arrive.within === "minute" ? t("Changes in your calendar arrive within a minute.")
      : t("Changes in your calendar arrive within {count} minutes.", { count: arrive.minutes });
    $("auth-banner").hidden = s.state !== "auth_error";
    $("auth-banner").textContent = label
      ? t("Sync has stopped: {name} no longer accepts calsync's access to your calendar. Reconnect with “Switch account”, then “Connect {name}”.", {name: label})
      : t("Sync has stopped: the calendar server does not accept your sign-in any more. Reconnect your account with “Switch account”.");
    var enabled = s.enabled !== false && s.state !== "paused";
    $("start").disabled = enabled;
    $("stop").disabled = !enabled;
    var count = s.pending_deletions;
    var needsConfirm = s.state === "needs_confirmation";
    $("confirm-panel").hidden = !needsConfirm;
    if (needsConfirm) {
      $("confirm-text").textContent = (count ? t("The last sync would delete {count} activities at once, so it stopped to ask you.", { count: count })
        : t("The last sync would delete many activities at once, so it stopped to ask you.")) +
        (s.pending_message ? " " + sentence(s.pending_message) : "") +
        " " + t("If you emptied or changed the calendar on purpose, delete them; otherwise keep them.");
    }
  }

  function setRadio(name, value) {
    document.querySelectorAll('input[name="' + name + '"]').forEach(function (r) { r.checked = r.value === value; });
  }

  function renderSettings() {
    var s = state;
    setRadio("sync_type", s.sync_type);
    setRadio("external_event_visibility", s.external_event_visibility);
    setRadio("private_events", s.private_events);
    var importType = s.import_type || s.import_type_key;
    if (importType) $("f-import-type").value = importType;
    $("f-include-details").checked = !!s.include_details;
    $("f-send-invitations").checked = !!s.send_invitations;
    var all = s.push_types === null || s.push_types === undefined;
    $("f-push-all").checked = all;
    document.querySelectorAll('input[name="push_type"]').forEach(function (box) {
      box.checked = all || s.push_types.indexOf(box.value) >= 0;
      box.disabled = all;
    });
  }

  async function loadCalendars() {
    var select = $("f-calendar");
    var result = await calsync.api("GET", BASE + "/calendars");
    select.innerHTML = "";
    var items = result.ok ? (result.body.data || []) : [];
    var current = state.calendar_id;
    if (!result.ok) {
      var failed = document.createElement("option");
      failed.value = current || "";
      failed.textContent = (state.calendar_name || current || "") + " " + t("(cannot list calendars: {error})", { error: calsync.errorText(result) });
      select.appendChild(failed);
      return;
    }
    if (!current) {
      var none = document.createElement("option");
      none.value = ""; none.textContent = t("Choose a calendar…");
      select.appendChild(none);
    }
    items.forEach(function (c) {
      var option = document.createElement("option");
      option.value = c.id || c.url || c.href;
      option.textContent = (c.name || c.display_name || option.value) + (c.read_only || c.writable === false ? " " + t("(read-only)") : "");
      select.appendChild(option);
    });
    if (current) select.value = current;
    if (state.state === "choose_calendar") renderChoices(items);
  }

  // The account's calendars as choices: writable ones can be picked, read-only ones are shown
  // (so nobody wonders where they went) but cannot be.
  function renderChoices(items) {
    var list = $("choose-list");
    list.innerHTML = "";
    $("choose-account").textContent = state.account || "";
    items.forEach(function (c, index) {
      var label = document.createElement("label");
      label.className = "choice";
      var radio = document.createElement("input");
      radio.type = "radio"; radio.name = "choose_calendar"; radio.value = c.id;
      radio.disabled = c.writable === false;
      radio.addEventListener("change", function () { $("choose-calendar").disabled = false; });
      label.appendChild(radio);
      var text = document.createElement("span");
      text.textContent = " " + (c.name || c.id) + (c.writable === false ? " " + t("(read-only: calendar sync cannot write to it)") : "");
      label.appendChild(text);
      list.appendChild(label);
    });
    if (!items.length) list.textContent = t("This account has no calendar that holds events.");
    $("choose-calendar").disabled = true;
  }

  async function loadLog() {
    var result = await calsync.api("GET", BASE + "/log");
    var body = $("run-log").querySelector("tbody");
    var runs = result.ok ? (result.body.data || []) : [];
    body.innerHTML = "";
    if (!result.ok || runs.length === 0) {
      var row = body.insertRow();
      var cell = row.insertCell();
      cell.colSpan = 9; cell.className = "muted";
      cell.textContent = result.ok ? t("No runs yet.") : t("Cannot read the log: {error}", { error: calsync.errorText(result) });
      return;
    }
    runs.forEach(function (run) {
      var row = body.insertRow();
      row.dataset.status = run.status || "";
      [when(run.started_at), run.trigger || "", run.status + (run.error ? ": " + run.error : ""),
       run.pulled, run.pushed, run.deleted, run.conflicts, run.skipped].forEach(function (value) {
        row.insertCell().textContent = value === undefined || value === null ? "" : String(value);
      });
      var details = row.insertCell();
      var entries = run.entries || [];
      if (entries.length) {
        var more = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = entries.length > 1 ? t("{count} lines", { count: entries.length }) : t("1 line");
        more.appendChild(summary);
        var list = document.createElement("ul");
        entries.slice(0, 50).forEach(function (entry) {
          var item = document.createElement("li");
          item.textContent = typeof entry === "string" ? entry : [entry.kind, entry.item, entry.message].filter(Boolean).join(": ");
          list.appendChild(item);
        });
        more.appendChild(list);
        details.appendChild(more);
      }
    });
  }

  async function action(method, path, label, body, quiet) {
    $("action-result").textContent = label + "…";
    var result = await calsync.api(method, BASE + path, body);
    var failed = t("{action} failed: {error}", { action: label, error: calsync.errorText(result) });
    if (!quiet || !result.ok) $("action-result").textContent = result.ok ? t("{action}: done.", { action: label }) : failed;
    if (!result.ok) calsync.toast(failed, true);
    await load();
    return result;
  }

  // settings: save on change
  $("f-calendar").addEventListener("change", function () { if (this.value) save("calendar_id", this.value); });
  $("f-import-type").addEventListener("change", function () { save("import_type", this.value); });
  $("f-include-details").addEventListener("change", function () { save("include_details", this.checked); });
  $("f-send-invitations").addEventListener("change", function () { save("send_invitations", this.checked); });
  ["sync_type", "external_event_visibility", "private_events"].forEach(function (name) {
    document.querySelectorAll('input[name="' + name + '"]').forEach(function (radio) {
      radio.addEventListener("change", function () { if (radio.checked) save(name, radio.value); });
    });
  });
  function checkedTypes() {
    return Array.prototype.map.call(document.querySelectorAll('input[name="push_type"]:checked'), function (b) { return b.value; });
  }
  $("f-push-all").addEventListener("change", function () {
    var all = this.checked;
    document.querySelectorAll('input[name="push_type"]').forEach(function (box) { box.disabled = all; if (all) box.checked = true; });
    save("push_types", all ? null : checkedTypes());
  });
  document.querySelectorAll('input[name="push_type"]').forEach(function (box) {
    box.addEventListener("change", function () { save("push_types", checkedTypes()); });
  });

  // actions
  $("sync-now").addEventListener("click", async function () {
    var button = this;
    button.disabled = true;
    var result = await action("POST", "/sync?wait=true", t("Sync now"), undefined, true);
    // A run already going (after a connect or a change) finishes first; then ours runs.
    for (var tries = 0; tries < 120 && result.ok && result.body.data && result.body.data.status === "busy"; tries++) {
      $("action-result").textContent = t("Waiting for the sync that is running to finish…");
      await new Promise(function (resolve) { setTimeout(resolve, 1000); });
      result = await action("POST", "/sync?wait=true", t("Sync now"), undefined, true);
    }
    button.disabled = false;
    var run = result.ok && result.body.data;
    if (run && run.status && state && state.state === "choose_calendar") {
      $("action-result").textContent = t("Sync now: nothing synced — choose the calendar to sync with first.");
    } else if (run && run.status) {
      var words = { ok: t("done"), busy: t("a sync is running already"), needs_confirmation: t("waiting for your confirmation"),
                    auth_error: t("cannot sign in to the calendar"), provider_error: t("the calendar server failed"), paused: t("sync is stopped") };
      $("action-result").textContent = t("Sync now: {result} — {pulled} from the calendar, {pushed} to the calendar, {deleted} deleted.",
        { result: words[run.status] || run.status, pulled: run.pulled, pushed: run.pushed, deleted: run.deleted }) +
        (run.message ? " " + sentence(run.message) : "");
    }
  });
  $("start").addEventListener("click", function () { action("POST", "/start", t("Start")); });
  $("stop").addEventListener("click", function () { action("POST", "/stop", t("Stop")); });
  $("disconnect").addEventListener("click", function () {
    if (confirm(t("Disconnect this calendar account? Activities stay in the CRM; events stay in the calendar."))) action("DELETE", "", t("Disconnect"));
  });
  $("switch-account").addEventListener("click", function () { switching = true; render(); $("caldav-url").focus(); });
  $("cancel-switch").addEventListener("click", function () { switching = false; render(); });
  $("confirm-deletions").addEventListener("click", function () { action("POST", "/confirm-deletions", t("Confirm deletions")); });
  $("cancel-deletions").addEventListener("click", function () { action("POST", "/cancel-deletions", t("Keep activities")); });
  $("refresh-log").addEventListener("click", loadLog);
  $("choose-calendar").addEventListener("click", async function () {
    var picked = document.querySelector('input[name="choose_calendar"]:checked');
    if (!picked) return;
    this.disabled = true;
    $("choose-result").textContent = t("Saving…");
    var result = await calsync.api("PATCH", BASE, { calendar_id: picked.value });
    $("choose-result").textContent = result.ok ? "" : t("Not saved: {message}", { message: calsync.errorText(result) });
    if (result.ok) calsync.toast(t("Syncing with {calendar}.", { calendar: result.body.data.calendar_name || t("the chosen calendar") }));
    await load();
  });

  // The built-in calendar: one click, nothing typed.
  var builtin = $("builtin-connect");
  if (builtin) builtin.addEventListener("click", async function () {
    $("builtin-error").hidden = true;
    $("builtin-busy").hidden = false;
    builtin.disabled = true;
    var result = await calsync.api("POST", BASE + "/connect", { provider: "builtin" });
    $("builtin-busy").hidden = true;
    builtin.disabled = false;
    if (!result.ok) {
      $("builtin-error").textContent = calsync.errorText(result);
      $("builtin-error").hidden = false;
      return;
    }
    switching = false;
    calsync.toast(t("Connected to your built-in calendar."));
    await load();
  });

  // CalDAV connect form
  var preset = $("caldav-preset");
  if (preset) preset.addEventListener("change", function () {
    if (preset.value) $("caldav-url").value = preset.value;
    $("caldav-url-hint").hidden = preset.value.indexOf("YOUR-SERVER") < 0;
    document.querySelectorAll(".provider").forEach(function (p) { p.classList.toggle("selected", p.dataset.provider === "caldav"); });
  });
  var form = $("connect-caldav");
  if (form) form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var error = $("connect-error");
    error.hidden = true;
    $("connect-busy").hidden = false;
    $("caldav-connect").disabled = true;
    var body = { provider: "caldav", url: $("caldav-url").value.trim(), username: $("caldav-username").value.trim(), password: $("caldav-password").value };
    var result = await calsync.api("POST", BASE + "/connect", body);
    $("connect-busy").hidden = true;
    $("caldav-connect").disabled = false;
    if (!result.ok) {
      error.textContent = calsync.errorText(result);
      error.hidden = false;
      return;
    }
    $("caldav-password").value = "";
    switching = false;
    var landed = result.body && result.body.data;
    calsync.toast(landed && landed.state === "choose_calendar" ? t("Connected: now choose the calendar to sync with.") : t("Connected."));
    await load();
  });

  // a run ended (static/js/sync-progress.js watches): show what it did
  document.body.addEventListener("calsync:runs-changed", function () { load(); loadLog(); });

  load();
})();
