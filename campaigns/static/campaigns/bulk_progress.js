// A bulk send's page: ask for its progress every 2 s until it is over.
(function () {
  "use strict";
  function start() {
    var panel = document.getElementById("bulk-progress");
    if (!panel) { return; }
    var bar = panel.querySelector("progress");
    function poll() {
      fetch(panel.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          panel.querySelectorAll("[data-field]").forEach(function (cell) {
            var value = data[cell.dataset.field];
            if (value !== undefined) { cell.textContent = value; }
          });
          bar.value = data.percent;
          if (!data.can_cancel) {
            var cancel = panel.querySelector(".bulk-cancel");
            if (cancel) { cancel.remove(); }
            return;  // over: nothing more will change
          }
          window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, 2000);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
