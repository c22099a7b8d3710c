/* A filter over a long list of checkboxes (the intake's consent step names agencies out of every member agency):
   typing shows only the boxes whose label holds every word typed, accents and case aside; a ticked box always stays
   shown. Progressive enhancement: the filter is in the page hidden and shown here, so without JavaScript there is
   only the whole list, which works on its own. The filter has no name: it is never submitted. */
(function () {
  "use strict";

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function apply(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    if (!list) { return; }
    var words = fold(input.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("label").forEach(function (label) {
      if (label.dataset.folded === undefined) { label.dataset.folded = fold(label.textContent); }
      var box = label.querySelector("input");
      var match = (box && box.checked) || words.every(function (word) {
        return label.dataset.folded.indexOf(word) !== -1;
      });
      label.style.display = match ? "" : "none";
      if (match) { shown += 1; }
    });
    var status = document.getElementById(input.id + "-status");
    if (status) { status.textContent = words.length ? shown + " of " + list.querySelectorAll("label").length + " shown" : ""; }
  }

  function enable(root) {
    root.querySelectorAll("[data-filter-choices]").forEach(function (input) {
      var wrapper = input.closest("[data-filter-wrapper]");
      if (wrapper) { wrapper.hidden = false; }
      if (input.value) { apply(input); }
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-filter-choices]")) { apply(event.target); }
  });
  // Enter in the filter narrows the list; it must not send the step.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-filter-choices]")) {
      event.preventDefault();
    }
  });
  enable(document);
  document.addEventListener("htmx:afterSettle", function () { enable(document); });
})();
