// Shared by every page: JSON calls to the API with the session's CSRF token, a toast, the
// page's language (t) and its time format.
(function () {
  "use strict";
  // The page's translations of this folder's messages (msgid -> text), embedded by base.html from
  // locale/<lang>/LC_MESSAGES/js.po; English is the msgid itself. `{name}` takes values[name].
  var MESSAGES = null;
  function t(message, values) {
    if (MESSAGES === null) {
      var node = document.getElementById("i18n-messages");
      try { MESSAGES = node ? JSON.parse(node.textContent) : {}; } catch (err) { MESSAGES = {}; }
    }
    var text = MESSAGES[message] || message;
    return values ? text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? String(values[name]) : all; }) : text;
  }
  function lang() { return document.documentElement.lang || "en"; }
  // A sync reason from the API (English) in the page's language: the patterns of web/sync_reasons.py.
  var REASONS = null;
  function reason(text) {
    if (!text) return "";
    if (REASONS === null) {
      var node = document.getElementById("i18n-reasons");
      try { REASONS = node ? JSON.parse(node.textContent) : []; } catch (err) { REASONS = []; }
    }
    for (var i = 0; i < REASONS.length; i++) {
      var found = new RegExp(REASONS[i][0]).exec(text);
      if (found) return REASONS[i][1].replace(/\{(\w+)\}/g, function (all, name) { return (found.groups || {})[name] || ""; });
    }
    return text;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // fetch() for the REST API: sends JSON and the CSRF header, returns {ok, status, body}.
  async function api(method, url, body) {
    var options = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrfToken();
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    var response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      return { ok: false, status: 0, body: { error: t("the server cannot be reached: check your connection and try again") } };
    }
    if (response.status === 401) {
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
    }
    var data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    return { ok: response.ok, status: response.status, body: data || {} };
  }

  function errorText(result) {
    return (result.body && result.body.error) || t("the request failed (HTTP {status})", { status: result.status });
  }

  var toastTimer = null;
  function toast(message, bad) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.className = "toast" + (bad ? " bad" : "");
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, bad ? 8000 : 3000);
  }

  // Behaviour the markup asks for with data- attributes (the CSP allows no inline handlers):
  // a "select all" checkbox, and forms that ask before they submit.
  document.addEventListener("change", function (event) {
    var box = event.target;
    var selector = box && box.getAttribute && box.getAttribute("data-select-all");
    if (!selector) return;
    document.querySelectorAll(selector).forEach(function (c) { c.checked = box.checked; });
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Times the way every page prints them (web/pages/formatting.py: format_instant, format_day):
  // "Tue 01 Dec, 08:30" (ja "12月1日(火) 08:30") in the viewer's profile zone; the names and the
  // patterns come from #time-format.
  // (read when first used: this script loads in <head>, before the page's body exists)
  var FORMAT = null, zoneParts = null;
  function format() {
    if (FORMAT) return FORMAT;
    var node = document.getElementById("time-format");
    FORMAT = node ? JSON.parse(node.textContent) : { zone: "UTC", weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
      months: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], this_year: new Date().getUTCFullYear(),
      patterns: { day: "{wd} {dd} {mon}", day_year: "{wd} {dd} {mon} {y}", instant: "{day}, {time}" } };
    zoneParts = new Intl.DateTimeFormat("en-US", { timeZone: FORMAT.zone, year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", hourCycle: "h23" });
    return FORMAT;
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function fill(pattern, parts) {
    return pattern.replace(/\{(\w+)\}/g, function (all, name) { return name in parts ? String(parts[name]) : all; });
  }
  function formatDay(year, month, day) {
    var f = format();
    var weekday = (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7;
    var parts = { wd: f.weekdays[weekday], dd: two(day), d: day, mon: f.months[month - 1], m: month, y: year };
    return fill(year === f.this_year ? f.patterns.day : f.patterns.day_year, parts);
  }
  function toDate(value) {
    // a stored time without an offset is UTC (as on the server), never the browser's zone
    if (typeof value === "string" && /T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value)) value += "Z";
    return new Date(value);
  }
  function localParts(value) {
    var parts = {};
    format();
    zoneParts.formatToParts(toDate(value)).forEach(function (p) { parts[p.type] = Number(p.value); });
    return parts;
  }
  function clock(value) { var p = localParts(value); return two(p.hour % 24) + ":" + two(p.minute); }
  function formatInstant(value) {
    if (!value) return "";
    var date = toDate(value);
    if (isNaN(date)) return String(value);
    var p = localParts(date);
    return fill(format().patterns.instant, { day: formatDay(p.year, p.month, p.day), time: two(p.hour % 24) + ":" + two(p.minute) });
  }

  window.calsync = { api: api, csrfToken: csrfToken, errorText: errorText, toast: toast, t: t, lang: lang, reason: reason,
    formatInstant: formatInstant, formatDay: formatDay, clock: clock };
})();
