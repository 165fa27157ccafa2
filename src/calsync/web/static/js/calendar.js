// The calendar view: FullCalendar reading GET /api/v1/calendar (at most 500 per range) and
// saving drags and resizes through PATCH /api/v1/activities/{id}; refused changes are reverted.
// Times show in the user's profile time zone: FullCalendar runs with that named zone and no
// zone plugin, so it works on wall-clock times ("UTC-coerced" dates); wall() and fromWall()
// convert between instants and wall-clock times in that zone with the browser's Intl data.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("calendar-config").textContent);
  var el = document.getElementById("calendar");
  var ownerSelect = document.getElementById("owner-filter");
  var capped = document.getElementById("capped");
  var loading = document.getElementById("loading");
  var params = new URLSearchParams(window.location.search);
  var ZONE = config.timezone || "UTC";
  var wallParts = new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  var names = { deals: {}, persons: {}, orgs: {} }; // of the linked items the viewer may see (from the API)
  var shown = null; // the activity in the details panel
  var t = calsync.t; // the page's language (common.js; messages in locale/*/LC_MESSAGES/js.po)
  var SYNC = { synced: t("Synced"), pending: t("Pending"), error: t("Sync error"), not_synced: t("Not synced"), no_account: t("No calendar connected"), paused: t("Sync paused"), problem: t("Sync problem") };
  var BUSY = t("Busy");
  // FullCalendar's own words in the page's language (its locale bundles are not vendored).
  var LOCALE = { code: calsync.lang(), buttonText: { today: t("Today"), day: t("Day"), week: t("Week"), month: t("Month") },
    buttonHints: { prev: t("Previous"), next: t("Next") }, // the chevron buttons' names for screen readers
    allDayText: t("all-day"), moreLinkText: function (n) { return t("+{count} more", { count: n }); }, noEventsText: t("No activities to show") };

  ownerSelect.value = params.get("owner") || "me";
  if (!ownerSelect.value) ownerSelect.value = "me";

  function ownerParam() {
    var value = ownerSelect.value;
    if (value === "everyone") return null;
    return value === "me" ? String(config.me) : value;
  }

  function syncText(sync) {
    if (!sync) return "";
    var text = SYNC[sync.status] || sync.status;
    // the real reason (crm/services/sync_status.py): past item, type not sent, paused account, server's words
    if ((sync.status === "error" || sync.status === "problem" || sync.status === "paused") && sync.reason) text += ": " + calsync.reason(sync.reason);
    else if (sync.reason && sync.status !== "synced") text += " (" + calsync.reason(sync.reason) + ")";
    if (sync.account) text += " · " + sync.account;
    return text;
  }

  // An instant (Date or ISO string with offset) -> "YYYY-MM-DDTHH:mm:ss" on the wall clock in ZONE.
  function wall(instant) {
    var parts = {};
    wallParts.formatToParts(new Date(instant)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute + ":" + parts.second;
  }

  // A wall-clock time in ZONE -> the instant (Date). Two passes settle DST edges.
  function fromWall(text) {
    var guess = new Date(text + "Z");
    var offset = new Date(wall(guess) + "Z") - guess;
    var instant = new Date(guess.getTime() - offset);
    var second = new Date(wall(instant) + "Z") - instant;
    return second === offset ? instant : new Date(guess.getTime() - second);
  }

  // FullCalendar's dates in a named zone without plugin carry the wall time in their UTC fields.
  function wallOf(date) { return date.toISOString().slice(0, 19); }
  function dayOf(date) { return date.toISOString().slice(0, 10); }

  // the viewer's own private activity (others see it as Busy): it carries a lock mark
  function ownPrivate(a) { return a.private && !a.redacted && a.owner_id === config.me; }

  function canEdit(a) {
    if (a.redacted) return false;
    return a.owner_id === config.me || (config.isAdmin && !a.private);
  }

  // A colour darkened (hue kept) until white text on it reaches WCAG AA contrast (4.5:1), so an
  // event stays readable whatever colour an admin gave its type.
  function readable(hex) {
    var m = /^#?([0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return hex;
    var rgb = [0, 2, 4].map(function (i) { return parseInt(m[1].substr(i, 2), 16); });
    function luminance(c) {
      var l = c.map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
      return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
    }
    for (var step = 0; step < 20 && 1.05 / (luminance(rgb) + 0.05) < 4.6; step++) {
      rgb = rgb.map(function (v) { return Math.floor(v * 0.92); });
    }
    return "#" + rgb.map(function (v) { return ("0" + v.toString(16)).slice(-2); }).join("");
  }

  function toEvent(a) {
    var type = config.types[a.type];
    var color = readable(a.redacted ? "#868e96" : (type ? type.color : "#4f6bed"));
    var classes = [];
    if (a.redacted) classes.push("ev-busy");
    if (a.read_only) classes.push("ev-readonly");
    if (a.done) classes.push("ev-done");
    if (!a.redacted && !a.busy) classes.push("ev-free"); // free time: drawn light, not as a solid block
    if (ownPrivate(a)) classes.push("ev-private");
    return {
      id: String(a.id), title: a.redacted ? BUSY : a.subject, allDay: a.all_day,
      start: a.all_day ? a.start : wall(a.start), end: a.all_day ? a.end : wall(a.end),
      backgroundColor: color, borderColor: a.read_only ? "#5b3fa0" : color, classNames: classes,
      editable: canEdit(a), extendedProps: { activity: a },
    };
  }

  function iconSvg(name) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "#i-" + name);
    svg.appendChild(use);
    return svg;
  }

  function loadEvents(info, success, failure) {
    var query = new URLSearchParams({ start: wallOf(info.start), end: wallOf(info.end), timezone: ZONE });
    var owner = ownerParam();
    if (owner) query.set("owner_id", owner);
    loading.hidden = false;
    calsync.api("GET", "/api/v1/calendar?" + query.toString()).then(function (result) {
      loading.hidden = true;
      if (!result.ok) {
        calsync.toast(t("Could not load the calendar: {error}", { error: calsync.errorText(result) }), true);
        failure(new Error(calsync.errorText(result)));
        return;
      }
      var extra = result.body.additional_data || {};
      names = extra.names || names;
      var items = result.body.data || [];
      if (extra.more_available) {
        capped.textContent = t("Showing {shown} of {total} — narrow the range (pick a shorter view or one person) to see them all.", { shown: items.length, total: extra.total });
        capped.hidden = false;
      } else {
        capped.hidden = true;
      }
      success(items.map(toEvent));
    });
  }

  function showDetails(a) {
    var box = document.getElementById("details");
    var type = config.types[a.type];
    document.getElementById("d-title").textContent = a.redacted ? BUSY : a.subject;
    document.getElementById("d-when").textContent = describeTime(a);
    document.getElementById("d-type").textContent = a.redacted ? "—" : (type ? type.name : a.type);
    document.getElementById("d-owner").textContent = config.users[String(a.owner_id)] || t("user {id}", { id: a.owner_id });
    document.getElementById("d-sync").textContent = a.redacted ? "—" : syncText(a.sync);
    var flags = [];
    if (a.redacted) flags.push(t("A private activity of another user: only its time is shown."));
    if (a.read_only) flags.push(t("Read-only: an occurrence of a recurring event from the calendar. Change it in your calendar."));
    if (a.private && !a.redacted) flags.push(t("Private: others see only a Busy block."));
    if (a.done) flags.push(t("Done."));
    document.getElementById("d-flags").textContent = flags.join(" ");
    var hidden = t("(not visible to you)");
    row("deal", a.deal_id && (names.deals[String(a.deal_id)] || hidden));
    row("person", a.person_id && (names.persons[String(a.person_id)] || hidden));
    row("org", a.org_id && (names.orgs[String(a.org_id)] || hidden));
    row("location", a.location);
    var join = document.getElementById("d-join");
    var url = /^https?:\/\//i.test(a.conference_meeting_url || "") ? a.conference_meeting_url : "";
    join.textContent = url ? t("Join the meeting") : "";
    join.href = url || "#";
    join.title = url;
    showRow("join", !!url);
    var description = document.getElementById("d-description");
    var text = (a.public_description || "").trim();
    description.textContent = text.length > DESCRIPTION_START ? text.slice(0, DESCRIPTION_START).trimEnd() + "…" : text;
    description.hidden = !text;
    var open = document.getElementById("d-open");
    open.hidden = a.redacted;
    open.href = "/activities/" + a.id;
    open.textContent = canEdit(a) && !a.read_only ? t("Edit") : t("Open");
    var changeable = canEdit(a) && !a.read_only;
    var done = document.getElementById("d-done");
    done.hidden = !changeable;
    done.textContent = a.done ? t("Mark not done") : t("Mark done");
    document.getElementById("d-delete").hidden = !changeable;
    shown = a;
    box.hidden = false;
    box.dataset.activityId = String(a.id);
  }

  var DESCRIPTION_START = 200; // characters of the description the panel shows

  function showRow(name, visible) {
    document.querySelectorAll('#details [data-row="' + name + '"]').forEach(function (n) { n.hidden = !visible; });
  }

  function row(name, value) {
    document.getElementById("d-" + name).textContent = value || "";
    showRow(name, !!value);
  }

  async function markDone() {
    var a = shown;
    if (!a) return;
    var result = await calsync.api("PATCH", "/api/v1/activities/" + a.id, { done: !a.done });
    if (!result.ok) {
      calsync.toast(t("Not saved: {message}", { message: calsync.errorText(result) }), true);
      return;
    }
    calsync.toast(a.done ? t("Marked not done: {subject}", { subject: a.subject }) : t("Marked done: {subject}", { subject: a.subject }));
    a.done = !a.done;
    showDetails(a);
    calendar.refetchEvents();
  }

  async function remove() {
    var a = shown;
    if (!a || !window.confirm(t("Delete “{subject}”? It goes to the trash (restorable for 30 days).", { subject: a.subject }))) return;
    var result = await calsync.api("DELETE", "/api/v1/activities/" + a.id);
    if (!result.ok) {
      calsync.toast(t("Not deleted: {error}", { error: calsync.errorText(result) }), true);
      return;
    }
    calsync.toast(t("Deleted: {subject} (in the trash for 30 days)", { subject: a.subject }));
    document.getElementById("details").hidden = true;
    shown = null;
    calendar.refetchEvents();
  }

  function describeTime(a) {
    // the same text as the list's "Due" column (web/pages/formatting.py format_when)
    if (a.all_day) {
      var first = a.start.slice(0, 10).split("-").map(Number);
      var lastDate = new Date(Date.UTC(+a.end.slice(0, 4), +a.end.slice(5, 7) - 1, +a.end.slice(8, 10)) - 86400000);
      var text = calsync.formatDay(first[0], first[1], first[2]);
      var last = [lastDate.getUTCFullYear(), lastDate.getUTCMonth() + 1, lastDate.getUTCDate()];
      if (last.join("-") !== first.join("-")) text += " – " + calsync.formatDay(last[0], last[1], last[2]);
      return text + " · " + t("all day");
    }
    var start = calsync.formatInstant(a.start), end = calsync.formatInstant(a.end);
    if (start.slice(0, -7) === end.slice(0, -7)) return a.start === a.end ? start : start + "–" + calsync.clock(a.end);
    return start + " – " + end;
  }

  async function saveMove(info) {
    var event = info.event;
    var a = event.extendedProps.activity;
    var body;
    if (event.allDay) {
      var end = event.end ? event.end : new Date(event.start.getTime() + 86400000);
      body = { all_day: true, start: dayOf(event.start), end: dayOf(end) };
    } else {
      var endAt = event.end ? event.end : new Date(event.start.getTime() + 3600000);
      body = { all_day: false, start: fromWall(wallOf(event.start)).toISOString(), end: fromWall(wallOf(endAt)).toISOString() };
    }
    var result = await calsync.api("PATCH", "/api/v1/activities/" + a.id, body);
    if (!result.ok) {
      info.revert();
      calsync.toast(t("Not moved: {error}", { error: calsync.errorText(result) }), true);
      return;
    }
    calsync.toast(info.delta ? t("Saved: {subject} moved.", { subject: a.subject || t("activity") }) : t("Saved: {subject} resized.", { subject: a.subject || t("activity") }));
    calendar.refetchEvents();
  }

  var calendar = new FullCalendar.Calendar(el, {
    timeZone: ZONE,
    now: function () { return wall(new Date()); },
    initialView: params.get("view") || (window.innerWidth < 640 ? "timeGridDay" : "timeGridWeek"),
    initialDate: params.get("date") || undefined,
    headerToolbar: { left: "prev,next today", center: "title", right: "timeGridDay,timeGridWeek,dayGridMonth" },
    locales: [LOCALE],
    locale: LOCALE.code,
    firstDay: 1,
    nowIndicator: true,
    slotEventOverlap: false, // overlapping activities side by side, each readable, never on top of one another
    // The whole day (nothing at 23:00 may hide), scrolled to the morning.
    contentHeight: window.innerWidth < 640 ? 560 : 780,
    scrollTime: "07:00:00",
    dayMaxEvents: true,
    eventDisplay: "block",
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    views: {
      timeGrid: { dayHeaderFormat: { weekday: "short", day: "numeric", month: "numeric", omitCommas: true } },
      dayGrid: { dayHeaderFormat: { weekday: "short" } },
    },
    editable: true,
    selectable: true,
    eventResizableFromStart: false,
    events: loadEvents,
    lazyFetching: false, // the cap notice is about the range on screen: fetch each range anew
    eventContent: function (arg) {
      var a = arg.event.extendedProps.activity;
      var type = config.types[a.type];
      var minutes = arg.event.end ? (arg.event.end - arg.event.start) / 60000 : 30;
      var grid = arg.view.type.indexOf("timeGrid") === 0 && !arg.event.allDay && minutes >= 45;
      var wrap = document.createElement("div");
      wrap.className = "ev" + (grid ? " ev-grid" : "");
      var top = grid ? document.createElement("div") : wrap;
      if (grid) { top.className = "ev-top"; wrap.appendChild(top); }
      top.appendChild(iconSvg(a.redacted ? "busy" : (a.read_only ? "repeat" : (type ? type.icon : "calendar"))));
      if (ownPrivate(a)) {
        var lock = iconSvg("lock");
        lock.setAttribute("class", "icon ev-lock");
        lock.setAttribute("aria-hidden", "false");
        lock.setAttribute("role", "img");
        lock.setAttribute("aria-label", t("Private"));
        top.appendChild(lock);
      }
      var short = !grid && arg.view.type.indexOf("timeGrid") === 0;
      if (arg.timeText && !arg.event.allDay && !short) {
        var time = document.createElement("span");
        time.className = "ev-time";
        time.textContent = arg.timeText;
        top.appendChild(time);
      }
      var title = document.createElement("span");
      title.className = "ev-title";
      title.textContent = a.redacted ? BUSY : a.subject;
      if (a.sync && !a.redacted) {
        var dot = document.createElement("span");
        dot.className = "dot s-" + a.sync.status;
        dot.setAttribute("aria-label", syncText(a.sync));
        if (grid) top.appendChild(dot);
      }
      wrap.appendChild(title);
      if (dot && !grid) wrap.appendChild(dot);
      return { domNodes: [wrap] };
    },
    eventDidMount: function (arg) {
      var a = arg.event.extendedProps.activity;
      arg.el.dataset.activityId = String(a.id);
      arg.el.dataset.syncStatus = a.sync ? a.sync.status : "hidden";
      arg.el.dataset.readOnly = a.read_only ? "true" : "false";
      arg.el.dataset.redacted = a.redacted ? "true" : "false";
      var lines = [a.redacted ? BUSY : a.subject, describeTime(a)];
      if (!a.redacted) lines.push(syncText(a.sync));
      if (a.read_only) lines.push(t("Read-only occurrence: change it in your calendar"));
      if (ownPrivate(a)) lines.push(t("Private: others see only Busy"));
      if (!a.redacted && !a.busy) lines.push(t("Free: does not block your time"));
      arg.el.title = lines.filter(Boolean).join("\n");
    },
    eventClick: function (info) { info.jsEvent.preventDefault(); showDetails(info.event.extendedProps.activity); },
    eventDrop: saveMove,
    eventResize: saveMove,
    select: function (info) {
      var query = info.allDay
        ? new URLSearchParams({ start: dayOf(info.start), end: dayOf(info.end), all_day: "true" })
        : new URLSearchParams({ start: wallOf(info.start), end: wallOf(info.end), all_day: "false" });
      window.location.href = "/activities/new?" + query.toString();
    },
    // FullCalendar's markup, made right for screen readers (axe-core checks it in tests/web):
    // "+2 more" opens a popover, so it is a button; a day cell is named by its content.
    moreLinkDidMount: function (arg) {
      arg.el.setAttribute("role", "button");
      if (!arg.el.getAttribute("aria-controls")) arg.el.removeAttribute("aria-controls");
    },
    dayCellDidMount: function (arg) { arg.el.removeAttribute("aria-labelledby"); },
    datesSet: function (info) {
      // the toolbar's chevrons are decoration: each button is named by its title
      el.querySelectorAll(".fc-icon[role='img']").forEach(function (icon) { icon.setAttribute("aria-hidden", "true"); });
      var next = new URLSearchParams(window.location.search);
      next.set("view", info.view.type);
      next.set("date", dayOf(info.view.currentStart));
      history.replaceState(null, "", "/calendar?" + next.toString());
    },
  });
  calendar.render();
  window.calsyncCalendar = calendar;

  document.getElementById("d-done").addEventListener("click", markDone);
  document.getElementById("d-delete").addEventListener("click", remove);

  ownerSelect.addEventListener("change", function () {
    var next = new URLSearchParams(window.location.search);
    next.set("owner", ownerSelect.value);
    history.replaceState(null, "", "/calendar?" + next.toString());
    document.getElementById("details").hidden = true;
    calendar.refetchEvents();
  });
})();
