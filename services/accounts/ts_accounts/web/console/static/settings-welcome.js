/* « Message d'accueil » (D1): a small editor (bold, italic, underline, bullet list, links) over the
   page's textarea, a live counter of the visible characters and a live preview of what families
   will see. The preview is the server's sanitised version (POST …/welcome/preview, CSRF token in
   the X-CSRFToken header): the server is the authority on what is kept. Without this script the
   textarea is shown and accepts the limited HTML, and the « Aperçu » button previews. */
(function () {
  "use strict";
  var form = document.getElementById("welcome-form");
  if (!form || typeof document.execCommand !== "function" || !window.fetch || !window.URLSearchParams) { return; }
  var box = form.querySelector("[data-ts-editor]");
  var editor = box.querySelector("[data-editor]");
  var source = form.querySelector("textarea[name=message]");
  var toolbar = box.querySelector("[data-toolbar]");
  var editorError = box.querySelector("[data-editor-error]");
  var counter = document.getElementById("welcome-counter");
  var counterValue = counter.querySelector("[data-counter-value]");
  var preview = form.querySelector("[data-preview]");
  var linkUrl = document.getElementById("welcome-link-url");
  var label = document.getElementById("welcome-label");
  var maximum = parseInt(box.getAttribute("data-maximum"), 10) || 2000;
  var previewUrl = form.getAttribute("data-preview-url");
  var csrfInput = form.querySelector("input[name=csrf_token]");
  var STATE_COMMANDS = ["bold", "italic", "underline", "insertUnorderedList"];

  /* --- switch from the textarea to the editor ------------------------------------------------ */
  source.hidden = true;
  editor.hidden = false;
  toolbar.hidden = false;
  form.querySelectorAll("[data-no-script-hint], [data-preview-button]").forEach(function (element) {
    element.hidden = true;
  });
  label.removeAttribute("for");
  label.addEventListener("click", function () { editor.focus(); });
  try {
    document.execCommand("defaultParagraphSeparator", false, "p");
    document.execCommand("styleWithCSS", false, false);
  } catch (error) { /* older browsers: <div> lines, which the server turns into paragraphs */ }

  /* --- the visible text: the same count as the server's (service_layer/settings.py) ---------- */
  var BLOCKS = { P: true, DIV: true, UL: true, OL: true, LI: true };
  var DROPPED = { SCRIPT: true, STYLE: true, TEMPLATE: true, NOSCRIPT: true, IFRAME: true, OBJECT: true, TITLE: true };

  function collectText(node, parts) {
    for (var child = node.firstChild; child; child = child.nextSibling) {
      if (child.nodeType === Node.TEXT_NODE) {
        parts.push(child.nodeValue);
      } else if (child.nodeType === Node.ELEMENT_NODE && !DROPPED[child.tagName]) {
        if (child.tagName === "BR") { parts.push("\n"); continue; }
        var block = BLOCKS[child.tagName];
        if (block) { parts.push("\n"); }
        collectText(child, parts);
        if (block) { parts.push("\n"); }
      }
    }
  }

  function visibleLength(root) {
    var parts = [];
    collectText(root, parts);
    return parts.join("").replace(/[ \t\n\r\f\u00a0]+/g, " ").replace(/^ | $/g, "").length;
  }

  function showCount(length) {
    counterValue.textContent = String(length);
    counter.classList.toggle("ts-counter--over", length > maximum);
    if (length > maximum) {
      showError("Le message dépasse " + maximum + " caractères (" + length + ") : raccourcissez-le avant de valider.");
    } else if (editorError.getAttribute("data-kind") === "length") {
      showError("");
    }
  }

  function showError(message, kind) {
    editorError.textContent = message;
    editorError.hidden = !message;
    editorError.setAttribute("data-kind", message ? (kind || "length") : "");
  }

  /* --- the preview, sanitised by the server ---------------------------------------------------- */
  var previewTimer = null;
  var previewSequence = 0;

  function showPreview(html) {
    if (html) {
      preview.innerHTML = html;  // the server's sanitised fragment (allow-list of tags, http(s)/mailto links)
    } else {
      preview.textContent = "";
      var empty = document.createElement("p");
      empty.className = "ts-welcome-preview__empty";
      empty.textContent = "(aucun message)";
      preview.appendChild(empty);
    }
  }

  function refreshPreview() {
    var sequence = ++previewSequence;
    fetch(previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfInput.value, "Accept": "application/json" },
      body: new URLSearchParams({ message: editor.innerHTML })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (sequence !== previewSequence) { return; }  // a newer preview is on its way
      if (!answer.ok) {
        showError(answer.body.error || "L'aperçu n'est pas disponible.", "preview");
        return;
      }
      if (editorError.getAttribute("data-kind") === "preview") { showError(""); }
      showPreview(answer.body.html);
      showCount(answer.body.length);
    }).catch(function () {
      if (sequence === previewSequence) { showError("L'aperçu n'est pas disponible pour le moment.", "preview"); }
    });
  }

  function changed() {
    showCount(visibleLength(editor));
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, 300);
  }

  /* --- toolbar ---------------------------------------------------------------------------------- */
  var savedRange = null;

  function selectionInEditor() {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0) { return null; }
    var range = selection.getRangeAt(0);
    return editor.contains(range.commonAncestorContainer) ? range : null;
  }

  function restoreSelection() {
    editor.focus();
    if (savedRange) {
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(savedRange);
    }
  }

  function showStates() {
    toolbar.querySelectorAll("[data-command]").forEach(function (button) {
      var command = button.getAttribute("data-command");
      if (STATE_COMMANDS.indexOf(command) >= 0) {
        var on = false;
        try { on = document.queryCommandState(command); } catch (error) { on = false; }
        button.setAttribute("aria-pressed", on ? "true" : "false");
      }
    });
  }

  function saveSelection() {
    var range = selectionInEditor();
    if (range) {
      savedRange = range.cloneRange();
      showStates();
    }
  }

  document.addEventListener("selectionchange", saveSelection);
  // selectionchange arrives a moment after a keyboard selection: leaving the editor at once (Tab
  // to the link address) must not lose it.
  editor.addEventListener("keyup", saveSelection);
  editor.addEventListener("mouseup", saveSelection);
  editor.addEventListener("blur", saveSelection);

  /* http(s) only, as the page says (the server also accepts mailto: in pasted HTML). */
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

  function insertLink() {
    if (!savedRange || savedRange.collapsed) {
      showError("Sélectionnez d'abord, dans le message, le texte à mettre en lien.", "link");
      editor.focus();
      return;
    }
    var address = webAddress(linkUrl.value);
    if (!address) {
      showError("L'adresse du lien doit être une adresse internet complète commençant par http:// ou https://.", "link");
      linkUrl.focus();
      return;
    }
    showError("");
    restoreSelection();
    document.execCommand("createLink", false, address);
    linkUrl.value = "http://";
    changed();
  }

  toolbar.querySelectorAll("button[data-command]").forEach(function (button) {
    button.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the selection
    button.addEventListener("click", function () {
      var command = button.getAttribute("data-command");
      if (command === "createLink") { insertLink(); return; }
      if (editorError.getAttribute("data-kind") === "link") { showError(""); }
      restoreSelection();
      document.execCommand(command, false, null);
      showStates();
      changed();
    });
  });
  linkUrl.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); insertLink(); }  // not a submit of the form
  });

  /* --- typing, pasting, submitting ------------------------------------------------------------ */
  editor.addEventListener("input", changed);
  editor.addEventListener("paste", function (event) {
    // Text only: formatting pasted from a word processor would not survive the sanitiser anyway.
    event.preventDefault();
    var text = (event.clipboardData || window.clipboardData).getData("text/plain");
    document.execCommand("insertText", false, text);
  });
  editor.addEventListener("drop", function (event) { event.preventDefault(); });
  form.addEventListener("submit", function () {
    source.value = editor.innerHTML;  // the server sanitises and counts again
  });
  showCount(visibleLength(editor));
})();
