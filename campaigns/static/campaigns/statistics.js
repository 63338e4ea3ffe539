/* Draws each chart of the dashboard and the statistics page from the JSON beside its canvas
   (campaigns/templates/admin/campaigns/statistics/chart.html) with Chart.js, vendored in
   vendor/chartjs. The table below each chart holds the same figures. */
(function () {
  "use strict";
  var COLOURS = ["#417690", "#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#00838f"];

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || !window.Chart) { return; }
    var config = JSON.parse(source.textContent);
    var twoScales = config.datasets.some(function (set) { return set.axis === "y1"; });
    var valueAxis = config.horizontal ? "x" : "y";
    var scales = {};
    scales[valueAxis] = {beginAtZero: true, ticks: {precision: 0}};
    if (twoScales) {
      scales.y1 = {beginAtZero: true, position: "right", grid: {drawOnChartArea: false}, ticks: {precision: 0}};
    }
    var datasets = config.datasets.map(function (set, i) {
      var colour = COLOURS[i % COLOURS.length];
      var dataset = {label: set.label, data: set.data, type: set.type, backgroundColor: colour,
                     borderColor: colour, spanGaps: true};
      if (set.axis === "y1") { dataset.yAxisID = "y1"; }
      return dataset;
    });
    canvas.chart = new window.Chart(canvas, {
      type: config.type,
      data: {labels: config.labels, datasets: datasets},
      options: {indexAxis: config.horizontal ? "y" : "x", responsive: true, maintainAspectRatio: false,
                animation: false, scales: scales, plugins: {legend: {position: "bottom"}}}
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
