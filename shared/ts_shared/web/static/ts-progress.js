// Live progress of a notification batch: polls the batch's JSON every 1.5 s until it is complete,
// then reloads the page once to show the documents and the recap. On the page of a batch just
// requested (data-ts-pending), the notifier may not know the batch yet: it answers 404 until the
// batch arrives, then the page reloads to show it. Without JavaScript the page refreshes itself
// (meta refresh in a noscript).
(function () {
  "use strict";
  var box = document.querySelector("[data-ts-progress]");
  if (!box || box.getAttribute("data-ts-completed") === "true") { return; }
  var url = box.getAttribute("data-ts-progress");
  var pending = box.getAttribute("data-ts-pending") === "true";
  function show(state) {
    box.querySelector("[data-ts-progress-bar]").value = state.percent;
    box.querySelector("[data-ts-progress-label]").textContent = state.percent + " %";
    var done = box.querySelector("[data-ts-progress-done]");
    if (done) { done.textContent = String(state.done); }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (state) {
        if (pending) { window.location.reload(); return; }
        show(state);
        if (state.completed) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
      })
      .catch(function (status) { window.setTimeout(poll, pending && status === 404 ? 700 : 5000); });
  }
  // Polling starts once the page has loaded: a batch that is already there would otherwise
  // reload the page while its assets are still coming.
  function start() { window.setTimeout(poll, pending ? 500 : 1000); }
  if (document.readyState === "complete") { start(); } else { window.addEventListener("load", start); }
}());
