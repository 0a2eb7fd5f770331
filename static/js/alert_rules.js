// Alert pages: the alert chart from server-prepared data, and the rule form's condition-dependent fields.
// No KPI maths here: values and threshold come from the server (json_script); the server validates the form.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "fr";

  function formatDate(iso) {
    var parts = iso.split("-");
    var d = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    return new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", year: "2-digit", timeZone: "UTC" }).format(d);
  }

  function formatNumber(value, unit) {
    if (value === null || value === undefined) { return "—"; }
    return new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }).format(value) + (unit ? " " + unit : "");
  }

  function renderChart() {
    var canvas = document.querySelector("canvas[data-alert-chart]");
    if (!canvas || typeof window.Chart === "undefined") { return; }
    var source = document.getElementById(canvas.getAttribute("data-alert-chart"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    if (!data.labels || !data.labels.length) { return; }
    var unit = data.unit || "";
    var pointColors = data.values.map(function (_v, i) { return i === data.highlight ? "#b42318" : "#2451b7"; });
    var datasets = [
      { label: canvas.dataset.labelValue, data: data.values, borderColor: "#2451b7", backgroundColor: pointColors,
        pointBackgroundColor: pointColors, pointRadius: data.values.map(function (_v, i) { return i === data.highlight ? 6 : 3; }),
        borderWidth: 3, spanGaps: false }
    ];
    if (data.band) {
      // An anomaly rule's expected band: two dashed bounds, the area between them filled (upper to lower).
      var bound = { borderColor: "rgba(15, 118, 110, 0.8)", borderDash: [4, 4], borderWidth: 1, pointRadius: 0,
        spanGaps: false };
      datasets.push(Object.assign({ label: canvas.dataset.labelBandLower, data: data.band.lower, fill: false }, bound));
      datasets.push(Object.assign({ label: canvas.dataset.labelBandUpper, data: data.band.upper, fill: "-1",
        backgroundColor: "rgba(15, 118, 110, 0.18)" }, bound));
    }
    if (data.threshold !== null && data.threshold !== undefined) {
      datasets.push({ label: canvas.dataset.labelThreshold, data: data.labels.map(function () { return data.threshold; }),
        borderColor: "#b42318", borderDash: [6, 4], borderWidth: 2, pointRadius: 0 });
    }
    new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels.map(formatDate), datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + " : " + formatNumber(ctx.parsed.y, unit); } } }
        },
        scales: { y: { ticks: { callback: function (v) { return formatNumber(v, unit); } } } }
      }
    });
  }

  // Show only the fields that matter for the chosen condition; hidden fields keep their values.
  function conditionFields(form) {
    var condition = form.querySelector("[name=condition]");
    if (!condition) { return; }
    function update() {
      form.querySelectorAll("[data-show-for]").forEach(function (el) {
        var wanted = el.getAttribute("data-show-for").split(" ");
        el.hidden = wanted.indexOf(condition.value) === -1;
      });
    }
    condition.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    renderChart();
    document.querySelectorAll("form[data-rule-form]").forEach(conditionFields);
  });
})();
