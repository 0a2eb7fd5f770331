// Team dashboard: draws the charts and sparklines from the data the server prepared (json_script).
// No KPI maths here: values, targets and distributions all come from objectives.dashboard.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "fr";
  var PALETTE = ["#2451b7", "#0e8a7a", "#8e3bbd", "#a15c00", "#b42318", "#475467", "#1a3d8f", "#137a3d"];

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function formatNumber(value, unit) {
    if (value === null || value === undefined) { return "—"; }
    var digits = unit === "n" ? 0 : (Math.abs(value) >= 1000 ? 0 : 2);
    var text = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
    return unit && unit !== "n" ? text + "\u00a0" + unit : text;
  }

  function formatPeriod(iso, granularity) {
    var parts = iso.split("-");
    var d = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    var options = granularity === "week" ? { day: "numeric", month: "short" } : { month: "short", year: "2-digit" };
    options.timeZone = "UTC";
    return new Intl.DateTimeFormat(lang, options).format(d);
  }

  function showEmpty(canvas) {
    canvas.hidden = true;
    var note = canvas.parentNode.querySelector(".chart-empty");
    if (note) { note.hidden = false; }
  }

  function baseOptions(unit, extra) {
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { position: "bottom" },
        tooltip: { callbacks: { label: function (ctx) {
          var v = ctx.parsed && typeof ctx.parsed === "object" ? ctx.parsed.y : ctx.parsed;
          return ctx.dataset.label + " : " + formatNumber(v, unit);
        } } }
      },
      scales: { y: { beginAtZero: true, ticks: { precision: unit === "n" ? 0 : undefined,
        callback: function (v) { return formatNumber(v, unit); } } } }
    };
    return Object.assign(options, extra || {});
  }

  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    var charts = readJson("dashboard-charts") || {};
    var labels = document.getElementById("dashboard-labels").dataset;

    var trend = charts.trend || {};
    var trendCanvas = document.getElementById("chart-trend");
    if (trendCanvas && trend.labels && trend.labels.length) {
      var datasets = [{ label: trend.name || labels.value, data: trend.values, borderColor: PALETTE[0],
        backgroundColor: PALETTE[0], borderWidth: 3, pointRadius: 3, spanGaps: false }];
      if (trend.target && trend.target.length) {
        datasets.push({ label: labels.target, data: trend.target, borderColor: "#137a3d", borderDash: [6, 4],
          borderWidth: 2, pointRadius: 0 });
      }
      new window.Chart(trendCanvas, { type: "line",
        data: { labels: trend.labels.map(function (l) { return formatPeriod(l, trend.granularity); }), datasets: datasets },
        options: baseOptions(trend.unit, { interaction: { mode: "index", intersect: false } }) });
    }

    var revenue = charts.revenue || {};
    var revenueCanvas = document.getElementById("chart-revenue");
    if (revenueCanvas) {
      var anyRevenue = (revenue.values || []).some(function (v) { return v !== null && v !== 0; });
      if (anyRevenue) {
        new window.Chart(revenueCanvas, { type: "bar",
          data: { labels: revenue.labels.map(function (l) { return formatPeriod(l, "month"); }),
            datasets: [{ label: revenue.name || labels.revenue, data: revenue.values, backgroundColor: PALETTE[0] }] },
          options: baseOptions(revenue.unit, {}) });
      } else { showEmpty(revenueCanvas); }
    }

    var nps = charts.nps || {};
    var npsCanvas = document.getElementById("chart-nps");
    if (npsCanvas) {
      if (nps.values && nps.values.length) {
        new window.Chart(npsCanvas, { type: "doughnut",
          data: { labels: nps.labels, datasets: [{ data: nps.values, backgroundColor: ["#137a3d", "#98a2b3", "#b42318"] }] },
          options: { responsive: true, maintainAspectRatio: false, animation: false,
            plugins: { legend: { position: "bottom" } } } });
      } else { showEmpty(npsCanvas); }
    }

    var pipeline = charts.pipeline || {};
    var pipelineCanvas = document.getElementById("chart-pipeline");
    if (pipelineCanvas) {
      if (pipeline.labels && pipeline.labels.length) {
        new window.Chart(pipelineCanvas, { type: "bar",
          data: { labels: pipeline.labels, datasets: [{ label: labels.deals, data: pipeline.amounts, backgroundColor: PALETTE[2] }] },
          options: baseOptions("€", { indexAxis: "y",
            scales: { x: { beginAtZero: true, ticks: { callback: function (v) { return formatNumber(v, "€"); } } } } }) });
      } else { showEmpty(pipelineCanvas); }
    }

    var leads = charts.leads_by_channel || {};
    var leadsCanvas = document.getElementById("chart-leads");
    if (leadsCanvas) {
      if (leads.labels && leads.labels.length) {
        new window.Chart(leadsCanvas, { type: "bar",
          data: { labels: leads.labels, datasets: [{ label: labels.leads, data: leads.values, backgroundColor: PALETTE[1] }] },
          options: baseOptions("n", {}) });
      } else { showEmpty(leadsCanvas); }
    }

    var sparklines = readJson("dashboard-sparklines") || [];
    document.querySelectorAll("canvas[data-sparkline]").forEach(function (canvas) {
      var spark = sparklines[+canvas.dataset.sparkline];
      if (!spark) { return; }
      new window.Chart(canvas, { type: "line",
        data: { labels: spark.values.map(function (_v, i) { return i; }),
          datasets: [{ data: spark.values, borderColor: PALETTE[0], borderWidth: 2, pointRadius: 0, spanGaps: true, fill: false }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false, events: [],
          plugins: { legend: { display: false }, tooltip: { enabled: false } },
          scales: { x: { display: false }, y: { display: false } } } });
    });
  }

  document.querySelectorAll("[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
