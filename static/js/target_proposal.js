// Objective form: once a target's KPI and the objective's dates are chosen, show minimum / target / stretch proposed
// from the team's history (an HTML fragment the server renders: figures, probabilities, monthly path, words) and
// let the manager fill the three fields with them. No KPI maths here.
(function () {
  "use strict";
  var form = document.querySelector("form[data-proposal-url]");
  if (!form) { return; }
  var url = form.getAttribute("data-proposal-url");

  function field(scope, suffix) {
    return scope.querySelector('[name$="-' + suffix + '"]');
  }

  function formValue(name) {
    var input = form.querySelector('[name="' + name + '"]');
    return input ? input.value : "";
  }

  function propose(row) {
    var box = row.querySelector("[data-proposal]");
    var kpi = field(row, "kpi");
    if (!box || !kpi) { return; }
    var start = formValue("start_date");
    var due = formValue("due_date");
    var key = [kpi.value, start, due, (field(row, "segment") || {}).value || ""].join("|");
    if (box.getAttribute("data-key") === key) { return; }
    box.setAttribute("data-key", key);
    if (!kpi.value || !start || !due) { box.innerHTML = ""; return; }
    var query = new URLSearchParams({ kpi: kpi.value, start_date: start, due_date: due,
                                      segment: (field(row, "segment") || {}).value || "" });
    if (box.controller) { box.controller.abort(); }
    box.controller = new AbortController();
    fetch(url + "?" + query.toString(), { credentials: "same-origin", signal: box.controller.signal,
                                          headers: { "X-Requested-With": "XMLHttpRequest" } })
      .then(function (response) { return response.text(); })
      .then(function (html) { box.innerHTML = html; })  // the server's own template, escaped there
      .catch(function (error) { if (error.name !== "AbortError") { throw error; } });
  }

  function proposeAll() {
    form.querySelectorAll("fieldset.target-row").forEach(propose);
  }

  var timer = null;
  function later() {
    clearTimeout(timer);
    timer = setTimeout(proposeAll, 300);
  }

  form.addEventListener("change", function (event) {
    var name = event.target.name || "";
    if (/(^start_date$|^due_date$|-kpi$|-segment$)/.test(name)) { later(); }
  });

  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-fill-proposal]");
    if (!button) { return; }
    var row = button.closest("fieldset.target-row");
    ["minimum", "target", "stretch"].forEach(function (level) {
      var input = field(row, level + "_value");
      if (!input) { return; }
      input.value = button.getAttribute("data-" + level);
      input.dispatchEvent(new Event("input", { bubbles: true }));  // the live SMART check reads them again
    });
    var basis = field(row, "relative_basis");
    var percent = field(row, "relative_percent");
    if (basis && basis.value) {
      basis.value = "";  // the proposal is a value: no longer relative
      if (percent) { percent.value = ""; }
      basis.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  proposeAll();
})();
