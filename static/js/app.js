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

  // Phones fold the header's menu behind a button (CSS at 640 px and below). The button stays hidden without
  // JavaScript, and the menu open: it is shown here, and its aria-expanded is what the CSS reads.
  var toggle = document.querySelector("[data-menu-toggle]");
  var panel = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (toggle && panel) {
    var setOpen = function (open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        if (toggle.offsetParent !== null) toggle.focus();
      }
    });
  }

  // The team menu scrolls sideways on narrow screens: bring the current page's item into view.
  var current = document.querySelector(".teambar-links [aria-current='page']");
  if (current) {
    var list = current.closest(".teambar-links");
    if (list.scrollWidth > list.clientWidth) {
      list.scrollLeft = current.getBoundingClientRect().left - list.getBoundingClientRect().left - 16;
    }
  }
})();
