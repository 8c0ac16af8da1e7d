// The proofs page while a verification runs: reload it every two seconds so the progress and
// then the result appear. Without script the page's own "Refresh" link does the same.
(function () {
  "use strict";
  var running = document.querySelector("[data-running='true']");
  if (!running) {
    return;
  }
  window.setTimeout(function () {
    window.location.reload();
  }, 2000);
})();
