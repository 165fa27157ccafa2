// The activity editor: show time fields only for timed items, add/remove attendee rows.
(function () {
  "use strict";
  var form = document.getElementById("editor");
  if (!form) return;
  var allDay = document.getElementById("all_day");
  function toggleTimed() {
    form.querySelectorAll(".timed").forEach(function (el) { el.style.display = allDay.checked ? "none" : ""; });
  }
  if (allDay) { allDay.addEventListener("change", toggleTimed); toggleTimed(); }
  function renumber() {
    form.querySelectorAll("#attendee-rows .attendee-row").forEach(function (row, index) {
      row.querySelector('input[name="att_organizer"]').value = String(index);
    });
  }
  var add = document.getElementById("add-attendee");
  if (add) add.addEventListener("click", function () {
    var row = document.getElementById("attendee-template").content.firstElementChild.cloneNode(true);
    document.getElementById("attendee-rows").appendChild(row);
    renumber();
    row.querySelector('input[name="att_email"]').focus();
  });
  form.addEventListener("click", function (event) {
    if (event.target.classList.contains("remove-attendee")) {
      event.target.closest(".attendee-row").remove();
      renumber();
    }
  });
})();
