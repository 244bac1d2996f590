// A form sent back with errors: the summary at the top takes the focus, so that a screen reader
// reads it first and a keyboard user goes from it to each field (RGAA 11.10, 11.11).
(function () {
  "use strict";
  var summary = document.querySelector("[data-ts-error-summary]");
  if (summary) { summary.focus(); }
})();
