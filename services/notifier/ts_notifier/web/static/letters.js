/* « Courriers de notification » editor: a button beside each insertable field puts it at the
   cursor of the text (or in place of the selection). Without this script the fields are listed
   as text to copy. */
(function () {
  "use strict";
  var area = document.getElementById("letter-source");
  if (!area) { return; }
  document.querySelectorAll("[data-no-script-hint]").forEach(function (hint) { hint.hidden = true; });
  document.querySelectorAll("button[data-insert]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-insert");
      var start = area.selectionStart, end = area.selectionEnd;
      if (typeof area.setRangeText === "function") {
        area.setRangeText(text, start, end, "end");
      } else {
        area.value = area.value.slice(0, start) + text + area.value.slice(end);
        area.selectionStart = area.selectionEnd = start + text.length;
      }
      area.focus();
      area.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
})();
