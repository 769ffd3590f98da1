// boxcasb console: the only script. Pages work without it; with it, a region marked
// data-refresh is read again from the server every few seconds (the same page, rendered there)
// until the server renders it without data-refresh: the work it shows is over.
(function () {
  "use strict";

  var INTERVAL_MS = 1500;
  var RETRY_MS = 5000;

  function later(region, delay) {
    window.setTimeout(function () { refresh(region); }, delay);
  }

  function refresh(region) {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) {
        if (!answer.ok) { throw new Error("HTTP " + answer.status); }
        return answer.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById(region.id);
        if (!fresh) { return; }
        // Only replace what changed, so a screen reader hears news, not the same text again.
        if (fresh.innerHTML !== region.innerHTML) { region.innerHTML = fresh.innerHTML; }
        if (fresh.hasAttribute("data-refresh")) {
          later(region, INTERVAL_MS);
        } else {
          region.removeAttribute("data-refresh");
        }
      })
      .catch(function () { later(region, RETRY_MS); });
  }

  document.querySelectorAll("[data-refresh][id]").forEach(function (region) {
    later(region, INTERVAL_MS);
  });
})();
