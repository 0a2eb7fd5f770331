// Objectives pages: progress charts from server-prepared data, live SMART feedback, target rows.
// No KPI maths here: every figure comes from the server (json_script or the SMART endpoint).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "fr";

  function formatDate(iso) {
    var parts = iso.split("-");
    var d = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    return new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", timeZone: "UTC" }).format(d);
  }

  function formatNumber(value, unit) {
    if (value === null || value === undefined) { return "—"; }
    return new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }).format(value) + (unit ? " " + unit : "");
  }

  // The target's band (minimum, stretch), when it has one: dashed lines around the target line.
  function bands(canvas, data) {
    var lines = [];
    if (data.minimum) {
      lines.push({ label: canvas.dataset.labelMinimum, data: data.minimum, borderColor: "#b42318", borderDash: [8, 4],
                   borderWidth: 1.5, pointRadius: 0 });
    }
    if (data.stretch) {
      lines.push({ label: canvas.dataset.labelStretch, data: data.stretch, borderColor: "#137a3d", borderDash: [8, 4],
                   borderWidth: 1.5, pointRadius: 0 });
    }
    return lines;
  }

  function renderCharts() {
    if (typeof window.Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      if (!data.labels) { return; }
      var unit = data.unit || "";
      new window.Chart(canvas, {
        type: "line",
        data: {
          labels: data.labels.map(formatDate),
          datasets: [
            { label: canvas.dataset.labelActual, data: data.actual, borderColor: "#2451b7", backgroundColor: "#2451b7",
              borderWidth: 3, pointRadius: 3, spanGaps: false },
            { label: canvas.dataset.labelExpected, data: data.expected, borderColor: "#98a2b3", borderDash: [6, 4],
              borderWidth: 2, pointRadius: 0 },
            { label: canvas.dataset.labelTarget, data: data.target, borderColor: "#137a3d", borderWidth: 2, pointRadius: 0 },
            { label: canvas.dataset.labelForecast, data: data.forecast, borderColor: "#a15c00", borderDash: [2, 3],
              borderWidth: 2, pointRadius: 3, spanGaps: true }
          ].concat(bands(canvas, data))
        },
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
    });
  }

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, wait);
    };
  }

  function liveSmart(form) {
    var url = form.getAttribute("data-smart-url");
    var list = document.querySelector("[data-smart-list]");
    if (!url || !list) { return; }
    var pending = null;
    var check = debounce(function () {
      if (pending) { pending.abort(); }
      pending = new AbortController();
      fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin", signal: pending.signal,
                   headers: { "X-Requested-With": "XMLHttpRequest" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (result) {
          if (!result) { return; }
          Object.keys(result).forEach(function (letter) {
            var item = list.querySelector('[data-letter="' + letter + '"]');
            if (!item) { return; }
            item.classList.toggle("ok", result[letter].ok);
            item.classList.toggle("warn", !result[letter].ok);
            item.querySelector("[data-message]").textContent = result[letter].message;
          });
          list.setAttribute("data-checked", "true");
        })
        .catch(function (error) { if (error.name !== "AbortError") { throw error; } });
    }, 400);
    form.addEventListener("input", check);
    form.addEventListener("change", check);
    check();
  }

  function targetRows(form) {
    var button = form.querySelector("[data-add-target]");
    var template = form.querySelector("template[data-empty-target]");
    var rows = form.querySelector("[data-target-rows]");
    var total = form.querySelector('input[name="targets-TOTAL_FORMS"]');
    if (!button || !template || !rows || !total) { return; }
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var first = rows.lastElementChild.querySelector("select, input:not([type=hidden])");
      if (first) { first.focus(); }
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  var form = document.querySelector("form[data-smart-url]");
  if (form) {
    liveSmart(form);
    targetRows(form);
  }
  renderCharts();
})();
