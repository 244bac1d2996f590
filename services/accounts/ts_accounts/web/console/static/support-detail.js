/* « Renotifier » (E2/F2): the button says what it will do — a reminder of the login, or a new
   temporary password when « Réinitialiser le mot de passe » is ticked. Without this script the
   server's label is the one for the box as the page was sent. */
(function () {
  "use strict";
  var form = document.getElementById("renotify-form");
  if (!form) { return; }
  var box = form.querySelector("input[name=reset_password]");
  var button = form.querySelector("button[data-label-reset]");
  if (!box || !button) { return; }
  function follow() {
    button.textContent = button.getAttribute(box.checked ? "data-label-reset" : "data-label-reminder");
  }
  box.addEventListener("change", follow);
  follow();
}());
