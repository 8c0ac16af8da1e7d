// The receipt's print button. It is hidden in the HTML and shown here, so with script off no
// dead button appears (the browser's own Print prints the same page, with the print CSS).
(function () {
  "use strict";
  var button = document.getElementById("print-button");
  if (!button) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
})();
