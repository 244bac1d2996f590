// « Synthèse accès téléservices »: fetches the charts and tables again every few seconds and puts
// them in place when they changed (no reload; the page stays readable without JavaScript).
(function () {
  "use strict";
  var box = document.getElementById("acces-donnees");
  var status = document.getElementById("acces-etat");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-refresh-url");
  var seconds = parseInt(box.getAttribute("data-refresh-seconds"), 10) || 15;
  var last = null;

  function time() {
    var now = new Date();
    return now.getHours() + " h " + String(now.getMinutes()).padStart(2, "0");
  }

  function refresh() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        if (last === null) { last = box.innerHTML.trim(); }
        if (html.trim() !== last) {
          box.innerHTML = html;
          last = html.trim();
          status.textContent = "Chiffres mis à jour à " + time() + ".";
        }
        box.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () {
        status.textContent = "Mise à jour impossible pour le moment ; nouvel essai dans " + seconds + " secondes.";
      });
  }

  window.setInterval(refresh, seconds * 1000);
})();
