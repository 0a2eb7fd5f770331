// Small behaviours shared by every page. No KPI maths here: the server prepares the data.
(function () {
  "use strict";
  var switcher = document.querySelector("[data-team-switcher]");
  if (switcher) {
    switcher.addEventListener("change", function () {
      if (switcher.value) {
        var base = switcher.getAttribute("data-url-template") || "/dashboard/__slug__/";
        window.location.assign(base.replace("__slug__", encodeURIComponent(switcher.value)));
      }
    });
  }
})();
