// Shared by every page: JSON calls to the API with the session's CSRF token, and a toast.
(function () {
  "use strict";
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
      return { ok: false, status: 0, body: { error: "the server cannot be reached: check your connection and try again" } };
    }
    if (response.status === 401) {
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
    }
    var data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    return { ok: response.ok, status: response.status, body: data || {} };
  }

  function errorText(result) {
    return (result.body && result.body.error) || ("the request failed (HTTP " + result.status + ")");
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

  window.calsync = { api: api, csrfToken: csrfToken, errorText: errorText, toast: toast };
})();
