// Tick-box selections of the staff console (mass notification): « tout sélectionner », the live
// « N compte(s) sélectionné(s) », and copying the ticked rows into a second form (« Écrire à
// plusieurs responsables »). Everything still works without JavaScript.
(function () {
  "use strict";
  function rows(form) { return Array.prototype.slice.call(form.querySelectorAll("[data-ts-row]")); }
  function refresh(form) {
    var counter = form.querySelector("[data-ts-selected-count]");
    if (counter) { counter.textContent = String(rows(form).filter(function (box) { return box.checked; }).length); }
  }
  document.querySelectorAll("form").forEach(function (form) {
    var all = form.querySelector("[data-ts-select-all]");
    if (!all) { return; }
    all.addEventListener("change", function () {
      rows(form).forEach(function (box) { box.checked = all.checked; });
      refresh(form);
    });
    rows(form).forEach(function (box) { box.addEventListener("change", function () { refresh(form); }); });
    refresh(form);
  });
  document.querySelectorAll("[data-ts-copy-selection]").forEach(function (target) {
    var source = document.getElementById(target.getAttribute("data-ts-copy-selection"));
    target.addEventListener("submit", function () {
      var holder = target.querySelector("[data-ts-selection-copy]");
      holder.textContent = "";
      rows(source).forEach(function (box) {
        if (!box.checked) { return; }
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "couple"; input.value = box.value;
        holder.appendChild(input);
      });
    });
  });
}());
