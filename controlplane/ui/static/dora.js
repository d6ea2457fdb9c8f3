// The DORA page's weekly charts. The page is readable without this file (the numbers are in a
// table); the data comes from a JSON block, never inline script (the CSP forbids it).
(function () {
  "use strict";
  var CHARTS = {
    deploys: [["deployments", "deployments", "#0a58ca"], ["deployment days", "deployment_days", "#1a7f37"]],
    times: [["lead time h", "lead_time_h", "#8250df"], ["recovery h", "recovery_time_h", "#cf222e"]],
    rates: [["change failure %", "change_failure_pct", "#cf222e"], ["rework %", "rework_pct", "#9a6700"]]
  };
  function width(el) { return Math.max(260, el.clientWidth); }
  function draw() {
    var src = document.getElementById("dora-data");
    if (!src || typeof uPlot === "undefined") return;
    var data = JSON.parse(src.textContent);
    var xs = data.weeks.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
    document.querySelectorAll("[data-dora]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var lines = CHARTS[el.dataset.dora];
      if (!lines) return;
      var series = [{}].concat(lines.map(function (l) { return { label: l[0], stroke: l[2], width: 2, spanGaps: false, points: { show: true } }; }));
      var cols = [xs].concat(lines.map(function (l) { return data[l[1]]; }));
      var opts = { width: width(el), height: 170, series: series, axes: [{}, { size: 44 }], scales: { x: { time: true } } };
      el.dataset.drawn = "1";
      var plot = new uPlot(opts, cols, el);
      window.addEventListener("resize", function () { plot.setSize({ width: width(el), height: 170 }); });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
