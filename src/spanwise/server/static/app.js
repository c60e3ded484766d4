// spanwise dashboard: small progressive enhancements, no dependencies.
// Every page works without this file; it only saves clicks.
(function () {
  "use strict";

  // Filters: submit the form when a <select data-autosubmit> changes.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) { select.form.submit(); }
    });
  });

  // Waterfall: highlight the spans whose name contains the search text.
  var search = document.getElementById("span-search");
  var waterfall = document.getElementById("waterfall");
  if (search && waterfall) {
    var rows = Array.prototype.slice.call(waterfall.querySelectorAll("a.row"));
    search.addEventListener("input", function () {
      var needle = search.value.trim().toLowerCase();
      var first = null;
      rows.forEach(function (row) {
        var hit = needle !== "" && (row.getAttribute("data-name") || "").toLowerCase().indexOf(needle) !== -1;
        row.classList.toggle("match", hit);
        if (hit && first === null) { first = row; }
      });
      if (first) { first.scrollIntoView({ block: "nearest" }); }
    });
  }

  // Trace list: a click anywhere on a row opens the trace.
  document.querySelectorAll("tr.trace-row").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a")) { return; }
      var id = row.getAttribute("data-trace-id");
      if (id && /^[0-9a-f]{32}$/.test(id)) { window.location.href = "/traces/" + id; }
    });
  });
})();
