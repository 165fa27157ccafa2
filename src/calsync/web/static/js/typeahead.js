// Type-ahead pickers for deals, people and organizations (templates/_macros.html `typeahead`).
// Each keystroke (debounced) asks GET /api/v1/items/search for the first matches the user may
// see; picking one fills the hidden id field. The page never holds the whole list.
(function () {
  "use strict";
  var LIMIT = 20;

  function setUp(box) {
    var kind = box.getAttribute("data-kind");
    var input = box.querySelector(".typeahead-input");
    var hidden = box.querySelector(".typeahead-value");
    var chips = box.querySelector(".chips");  // several choices (participants) instead of one
    var field = box.getAttribute("data-field");
    var list = box.querySelector(".typeahead-options");
    var timer = null, asked = 0, active = -1;

    function options() { return Array.prototype.slice.call(list.querySelectorAll('li[role="option"]')); }
    function close() {
      list.hidden = true; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(index) {
      var all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach(function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    }
    function quiet() { clearTimeout(timer); asked++; }  // no pending or in-flight answer reopens the list
    function addChip(li) {
      quiet();
      var id = li.getAttribute("data-id");
      if (!chips.querySelector('li[data-id="' + id + '"]')) {
        var chip = document.createElement("li");
        chip.className = "chip";
        chip.setAttribute("data-id", id);
        var value = document.createElement("input");
        value.type = "hidden"; value.name = field; value.value = id;
        var text = document.createElement("span");
        text.textContent = li.getAttribute("data-name");
        var remove = document.createElement("button");
        remove.type = "button"; remove.className = "link chip-remove";
        remove.setAttribute("aria-label", calsync.t("Remove {name}", { name: li.getAttribute("data-name") }));
        remove.textContent = "✕";
        chip.appendChild(value); chip.appendChild(text); chip.appendChild(remove);
        chips.appendChild(chip);
      }
      input.value = "";
      close();
    }
    function choose(li) {
      if (chips) { if (li) addChip(li); return; }
      quiet();
      hidden.value = li ? li.getAttribute("data-id") : "";
      input.value = li ? li.getAttribute("data-name") : "";
      input.setAttribute("data-chosen", input.value);
      close();
    }
    function show(rows, query) {
      list.textContent = "";
      rows.forEach(function (row, i) {
        var li = document.createElement("li");
        li.id = input.id + "-option-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-id", String(row.id));
        li.setAttribute("data-name", row.name);
        li.textContent = row.name + (row.visibility === "owner" ? " " + calsync.t("(only the owner sees it)") : "");
        list.appendChild(li);
      });
      if (!rows.length) {
        var empty = document.createElement("li");
        empty.className = "typeahead-empty";
        empty.textContent = query ? calsync.t("Nothing starts with “{query}”", { query: query }) : calsync.t("Nothing to pick");
        list.appendChild(empty);
      }
      list.hidden = false; active = -1;
      input.setAttribute("aria-expanded", "true");
    }
    async function ask() {
      var query = input.value.trim();
      var mine = ++asked;
      var url = "/api/v1/items/search?kind=" + encodeURIComponent(kind) + "&limit=" + LIMIT + "&q=" + encodeURIComponent(query);
      var result = await window.calsync.api("GET", url);
      if (mine !== asked) return;  // an answer to an older keystroke
      if (!result.ok) { window.calsync.toast(window.calsync.errorText(result), true); return; }
      show(result.body.data || [], query);
    }

    input.addEventListener("input", function () {
      if (!input.value.trim() && hidden) hidden.value = "";  // cleared: no link
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
    input.addEventListener("focus", function () { if (!input.value) ask(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { event.preventDefault(); if (list.hidden) ask(); else highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && !list.hidden) {
        event.preventDefault();
        var all = options();
        if (active >= 0 && all[active]) choose(all[active]);
        else if (all.length === 1) choose(all[0]);
      } else if (event.key === "Escape") { close(); }
    });
    // mousedown, not click: it comes before the input's blur.
    list.addEventListener("mousedown", function (event) {
      var li = event.target.closest('li[role="option"]');
      event.preventDefault();
      if (li) choose(li);
    });
    if (chips) chips.addEventListener("click", function (event) {
      var button = event.target.closest(".chip-remove");
      if (button) { button.closest(".chip").remove(); input.focus(); }
    });
    input.addEventListener("blur", function () {
      quiet();
      close();
      if (chips) { input.value = ""; return; }
      // Typed text that was not picked does not change the link: show what is linked.
      if (input.value.trim()) input.value = input.getAttribute("data-chosen") || "";
      else { hidden.value = ""; input.setAttribute("data-chosen", ""); }
      if (!input.value) hidden.value = "";
    });
  }

  document.querySelectorAll(".typeahead").forEach(setUp);
})();
