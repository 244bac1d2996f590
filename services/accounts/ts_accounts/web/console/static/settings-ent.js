/* « ENT et courrier de notification » (D2): the ENT part shows only for « Mixte ENT/Téléservices »
   and « ENT seul », and « Aperçu du lien » follows the address being typed. Without this script
   the page works the same (the ENT part is always shown; the server ignores it for
   « Téléservices »). */
(function () {
  "use strict";
  var form = document.getElementById("ent-form");
  if (!form) { return; }
  var part = form.querySelector("[data-ent-part]");
  var entTypes = (part.getAttribute("data-ent-types") || "").split(" ");
  var typedUrl = form.querySelector("input[name=ent_url]");
  var typedPreview = form.querySelector("[data-url-preview]");

  part.querySelectorAll("[data-no-script-hint]").forEach(function (hint) { hint.hidden = true; });

  function showEntPart() {
    var checked = form.querySelector("input[name=letter_type]:checked");
    part.hidden = !(checked && entTypes.indexOf(checked.value) >= 0);
  }

  /* The same rule as the server's, loosely: an absolute http(s) address of a named host. */
  function webAddress(value) {
    var text = (value || "").trim();
    if (!text || /\s/.test(text) || text.length > 500) { return null; }
    var url;
    try { url = new URL(text); } catch (error) { return null; }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname || url.username || url.password) {
      return null;
    }
    return text;
  }

  function followTypedAddress() {
    var address = webAddress(typedUrl.value);
    if (address) {
      typedPreview.setAttribute("href", address);
      typedPreview.removeAttribute("aria-disabled");
    } else {
      typedPreview.removeAttribute("href");
      typedPreview.setAttribute("aria-disabled", "true");
    }
  }

  form.querySelectorAll("input[name=letter_type]").forEach(function (radio) {
    radio.addEventListener("change", showEntPart);
  });
  typedUrl.addEventListener("input", function () {
    var typed = form.querySelector("input[name=ent_choice][value=typed]");
    if (typed) { typed.checked = true; }  // typing an address chooses « Saisir l'adresse »
    followTypedAddress();
  });
  showEntPart();
  followTypedAddress();
})();
