// tackbridge dashboard: the Connections page's live preview of an automatic reply. As the
// template is typed, the server renders it (for the business's latest lead, as the reply
// would be sent) and the preview shows the text, or why the template cannot be used.
(function () {
  "use strict";
  document.querySelectorAll("form[data-preview-business]").forEach(function (form) {
    var source = form.querySelector("[data-preview-source]");
    var output = form.querySelector("[data-preview-output]");
    var whose = form.querySelector("[data-preview-lead]");
    var csrf = form.querySelector("input[name=csrf]");
    if (!source || !output || !csrf) { return; }
    var timer = null;
    var asked = 0;

    function show() {
      var mine = ++asked;
      fetch("/dashboard/autoreply/preview", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf.value },
        body: JSON.stringify({ business: form.dataset.previewBusiness, template: source.value })
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer || mine !== asked) { return; }
          output.classList.toggle("preview-error", !!answer.error && !answer.text);
          output.textContent = answer.text || answer.error || "";
          if (answer.text && answer.error) { output.textContent += "\n(" + answer.error + ")"; }
          if (whose) { whose.textContent = "(for " + answer.lead + ")"; }
          form.dataset.previewed = String(mine);
        })
        .catch(function () { /* the next keystroke tries again */ });
    }

    source.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(show, 250);
    });
    show();
  });
})();
