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

  // `suffix`: the unit as the page writes it (days: « j » in French); the unit itself by default.
  function formatNumber(value, unit, suffix) {
    if (value === null || value === undefined) { return "—"; }
    var digits = unit === "n" ? 0 : (Math.abs(value) >= 1000 ? 0 : 2);
    var text = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
    var shown = suffix === undefined ? unit : suffix;
    return unit && unit !== "n" ? text + "\u00a0" + shown : text;
  }

  function formatPeriod(iso, granularity) {
    var parts = iso.split("-");
    var d = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    var options = granularity === "week" ? { day: "numeric", month: "short" } : { month: "short", year: "2-digit" };
    options.timeZone = "UTC";
    return new Intl.DateTimeFormat(lang, options).format(d);
  }

  // The period still running (its value so far is partial) is labelled and drawn dashed or pale: a month's
  // first days must never read as a collapse.
  function periodLabels(chart, granularity, words) {
    return chart.labels.map(function (l, i) {
      var text = formatPeriod(l, granularity);
      return i === chart.running ? text + " (" + words.running + ")" : text;
    });
  }

  function runningStyle(dataset, running, bar) {
    if (running === null || running === undefined) { return dataset; }
    if (bar) {
      var solid = dataset.backgroundColor;
      dataset.backgroundColor = function (ctx) { return ctx.dataIndex === running ? solid + "66" : solid; };
    } else {
      dataset.segment = { borderDash: function (ctx) { return ctx.p1DataIndex === running ? [4, 4] : undefined; } };
      dataset.pointStyle = function (ctx) { return ctx.dataIndex === running ? "rectRot" : "circle"; };
    }
    return dataset;
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

  function valueAxis(series) {
    return { beginAtZero: true, ticks: { precision: series.unit === "n" ? 0 : undefined,
      callback: function (v) { return formatNumber(v, series.unit, series.unit_label); } } };
  }

  // Panels month by month: one dataset per series (bars or lines); a second unit gets the right-hand axis.
  function drawMonths(canvas, chart, words) {
    var units = [];
    var drawn = chart.series.filter(function (s) { return s.has_data; });  // no legend nor axis for an empty series
    drawn.forEach(function (s) { if (units.indexOf(s.unit) < 0) { units.push(s.unit); } });
    var datasets = drawn.map(function (s, i) {
      var colour = s.dashed ? "#137a3d" : PALETTE[i % PALETTE.length];
      var bar = s.style === "bar";
      var dataset = { type: bar ? "bar" : "line", label: s.name, data: s.values, series: s,
        yAxisID: units.indexOf(s.unit) === 0 ? "y" : "y1", order: bar ? 2 : 1,
        borderColor: colour, backgroundColor: colour, borderWidth: bar ? 0 : 2, pointRadius: bar ? 0 : 3,
        borderDash: s.dashed ? [6, 4] : [], spanGaps: false };
      return s.dashed ? dataset : runningStyle(dataset, chart.running, bar);
    });
    var scales = { y: valueAxis(drawn[0]) };
    if (units.length > 1) {
      var second = drawn.filter(function (s) { return s.unit === units[1]; })[0];
      scales.y1 = Object.assign(valueAxis(second), { position: "right", grid: { drawOnChartArea: false } });
    }
    new window.Chart(canvas, { type: "bar",
      data: { labels: periodLabels(chart, "month", words), datasets: datasets },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: function (ctx) {
          var s = ctx.dataset.series;
          return ctx.dataset.label + " : " + formatNumber(ctx.parsed.y, s.unit, s.unit_label);
        } } } },
        scales: scales } });
  }

  function drawDoughnut(canvas, chart) {
    new window.Chart(canvas, { type: "doughnut",
      data: { labels: chart.labels, datasets: [{ data: chart.values, backgroundColor: ["#137a3d", "#98a2b3", "#b42318"] }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } } } });
  }

  function drawStages(canvas, chart, labels) {
    new window.Chart(canvas, { type: "bar",
      data: { labels: chart.labels, datasets: [{ label: labels.deals, data: chart.amounts, backgroundColor: PALETTE[2] }] },
      options: baseOptions("€", { indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: { callback: function (v) { return formatNumber(v, "€"); } } } } }) });
  }

  function drawCategories(canvas, chart, labels) {
    new window.Chart(canvas, { type: "bar",
      data: { labels: chart.labels, datasets: [{ label: labels.leads, data: chart.values, backgroundColor: PALETTE[1] }] },
      options: baseOptions("n", {}) });
  }

  // How each type of panel is drawn (objectives.dashboards.panels gives each chart its type).
  var DRAW = { months: drawMonths, doughnut: drawDoughnut, stages: drawStages, categories: drawCategories };

  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    var charts = readJson("dashboard-charts") || {};
    var labels = document.getElementById("dashboard-labels").dataset;

    var trend = charts.trend || {};
    var trendCanvas = document.getElementById("chart-trend");
    if (trendCanvas && trend.labels && trend.labels.length) {
      var datasets = [runningStyle({ label: trend.name || labels.value, data: trend.values, borderColor: PALETTE[0],
        backgroundColor: PALETTE[0], borderWidth: 3, pointRadius: 3, spanGaps: false }, trend.running, false)];
      if (trend.target && trend.target.length) {
        datasets.push({ label: labels.target, data: trend.target, borderColor: "#137a3d", borderDash: [6, 4],
          borderWidth: 2, pointRadius: 0 });
      }
      new window.Chart(trendCanvas, { type: "line",
        data: { labels: periodLabels(trend, trend.granularity, labels), datasets: datasets },
        options: baseOptions(trend.unit, { interaction: { mode: "index", intersect: false } }) });
    }

    // Only panels with data have a canvas: the others say what is missing (rendered by the server).
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var chart = charts[canvas.dataset.chart];
      if (chart && DRAW[chart.type]) { DRAW[chart.type](canvas, chart, labels); }
    });

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
