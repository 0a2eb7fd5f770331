// KPI detail: draws the history chart from the data the server prepared (json_script); no KPI maths here.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "fr";

  function formatNumber(value, unit) {
    if (value === null || value === undefined) { return "—"; }
    var digits = unit === "n" ? 0 : (Math.abs(value) >= 1000 ? 0 : 2);
    var text = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
    return unit && unit !== "n" ? text + "\u00a0" + unit : text;
  }

  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    var node = document.getElementById("kpi-history");
    var history = node ? JSON.parse(node.textContent) : null;
    var canvas = document.getElementById("chart-history");
    if (!history || !canvas) { return; }
    if (!history.values.some(function (v) { return v !== null; })) {
      canvas.hidden = true;
      canvas.parentNode.querySelector(".chart-empty").hidden = false;
      return;
    }
    var many = history.values.length > 40;
    new window.Chart(canvas, {
      type: "line",
      data: { labels: history.names, datasets: [{
        label: document.getElementById("kpi-labels").dataset.value,
        data: history.values, borderColor: "#2451b7", backgroundColor: "#2451b7",
        borderWidth: many ? 2 : 3, pointRadius: many ? 0 : 3, spanGaps: false }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (ctx) {
          return ctx.dataset.label + " : " + formatNumber(ctx.parsed.y, history.unit);
        } } } },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 0, maxTicksLimit: 12 } },
          y: { beginAtZero: true, ticks: { precision: history.unit === "n" ? 0 : undefined,
            callback: function (v) { return formatNumber(v, history.unit); } } }
        }
      }
    });
  }

  document.querySelectorAll("[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
