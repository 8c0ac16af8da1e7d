// The pay page, enhanced: a countdown to the QR's expiry, and the page following the payment
// (it polls the status every 2 s, for at most 15 minutes, and reloads when something changed,
// so the server renders the new state). Without script the page has a "check again" link.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var POLL_FOR_MS = 15 * 60 * 1000;

  function countdown() {
    var element = document.getElementById("countdown");
    if (!element) { return; }
    var remaining = parseInt(element.getAttribute("data-remaining-s"), 10);
    if (isNaN(remaining)) { return; }
    var started = Date.now();
    function tick() {
      var left = Math.max(0, remaining - Math.floor((Date.now() - started) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      element.textContent = "(" + minutes + ":" + (seconds < 10 ? "0" : "") + seconds + ")";
      if (left <= 0) {
        // The server now offers a new QR in its place.
        window.setTimeout(function () { window.location.reload(); }, 1000);
        return;
      }
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  function follow() {
    var pay = document.getElementById("pay");
    var url = pay && pay.getAttribute("data-status-url");
    if (!url) { return; }
    var status = pay.getAttribute("data-status") || "";
    var receipt = pay.getAttribute("data-receipt") || "";
    var checkAgain = document.getElementById("check-again");
    var until = Date.now() + POLL_FOR_MS;
    var timer = null;
    var busy = false;
    if (checkAgain) { checkAgain.hidden = true; }

    function stop() {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
      if (checkAgain) { checkAgain.hidden = false; }
    }

    function schedule() {
      if (Date.now() >= until) { stop(); return; }
      timer = window.setTimeout(poll, POLL_MS);
    }

    function poll() {
      timer = null;
      if (busy) { return; }
      busy = true;
      fetch(url, { cache: "no-store", credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (response.status === 404) { return null; }
          return response.ok ? response.json() : {};
        })
        .then(function (answer) {
          busy = false;
          if (answer === null) { stop(); return; }
          var changed = answer.status && (answer.status !== status ||
            (answer.receipt_number || "") !== receipt);
          if (changed) { window.location.reload(); return; }
          schedule();
        })
        .catch(function () { busy = false; schedule(); });
    }

    // Back from the bank app: ask at once rather than wait for the next round.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && timer !== null) {
        window.clearTimeout(timer);
        poll();
      }
    });
    schedule();
  }

  countdown();
  follow();
})();
