// Import job page: poll the job's status and move the progress bar; reload for the report when done.
(function () {
  "use strict";
  var box = document.querySelector("[data-import-job]");
  if (!box || box.getAttribute("data-finished") === "true") {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("[data-import-progress]");
  var percent = box.querySelector("[data-import-percent]");
  var label = box.querySelector("[data-import-status]");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        bar.value = job.progress;
        bar.textContent = job.progress + " %";
        percent.textContent = job.progress + " %";
        label.textContent = job.status_label;
        if (job.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
