// critmin web: draw each page's charts from the JSON spec embedded next to them, and show
// progress while a scenario runs. Nothing else depends on JavaScript.
(function () {
  "use strict";
  function drawCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll(".chart[data-figure]").forEach(function (el) {
      var spec = JSON.parse(document.getElementById(el.dataset.figure).textContent);
      Plotly.newPlot(el, spec.data, spec.layout,
        { responsive: true, displaylogo: false,
          modeBarButtonsToRemove: ["lasso2d", "select2d"] });
    });
  }
  function busyForms() {
    document.querySelectorAll("form[data-busy]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var status = document.getElementById(form.dataset.busy);
        var button = form.querySelector("button[type=submit]");
        var t0 = Date.now();
        form.setAttribute("aria-busy", "true");
        // the button stays focusable for screen readers but cannot submit twice
        if (button) { button.setAttribute("aria-disabled", "true"); button.disabled = true; }
        if (status) {
          status.textContent = "Running the scenario…";
          setInterval(function () {
            status.textContent = "Running the scenario… " +
              Math.round((Date.now() - t0) / 1000) + " s";
          }, 1000);
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(); busyForms(); });
})();
