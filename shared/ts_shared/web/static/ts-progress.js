// Live progress of a notification batch: polls the batch's JSON every 1.5 s until it is complete,
// then reloads the page once to show the documents and the recap. Without JavaScript the page
// refreshes itself (meta refresh in a noscript).
(function () {
  "use strict";
  var box = document.querySelector("[data-ts-progress]");
  if (!box || box.getAttribute("data-ts-completed") === "true") { return; }
  var url = box.getAttribute("data-ts-progress");
  function show(state) {
    box.querySelector("[data-ts-progress-bar]").value = state.percent;
    box.querySelector("[data-ts-progress-label]").textContent = state.percent + " %";
    box.querySelector("[data-ts-progress-done]").textContent = String(state.done);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (state) {
        show(state);
        if (state.completed) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
}());
