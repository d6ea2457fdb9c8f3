// Charts only: every page is readable without this file (the numbers are in a table).
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("chart");
    var src = document.getElementById("chart-data");
    if (!el || !src || typeof uPlot === "undefined" || el.dataset.drawn) return;
    var data = JSON.parse(src.textContent);
    var xs = data.days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
    var opts = {
      width: Math.max(280, el.clientWidth), height: 180,
      series: [{}, { label: "succeeded", stroke: "#1a7f37", fill: "rgba(26,127,55,.12)" },
               { label: "failed or rolled back", stroke: "#cf222e" }],
      axes: [{}, { size: 40 }], scales: { x: { time: true } }
    };
    el.dataset.drawn = "1";
    var plot = new uPlot(opts, [xs, data.succeeded, data.failed], el);
    window.addEventListener("resize", function () { plot.setSize({ width: Math.max(280, el.clientWidth), height: 180 }); });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
