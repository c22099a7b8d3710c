/* CSRN's small script: show htmx errors (a failed save must never look like a success). */
(function () {
  "use strict";
  var MESSAGES = {
    0: "The server could not be reached. Check your connection; nothing was saved.",
    400: "The request was refused (your form may have expired). Reload the page and try again.",
    403: "Your account does not have access to that.",
    404: "That item was not found, or you do not have access to it.",
    409: "Someone else changed this. Reload to see their changes.",
    413: "What you sent is too large.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on the server. Your change was not saved.",
    503: "The service is unavailable right now. Your change was not saved."
  };

  function showError(status) {
    var banner = document.getElementById("htmx-error");
    if (!banner) { return; }
    banner.textContent = (MESSAGES[status] || "Something went wrong (error " + status + "). Your change was not saved.");
    banner.hidden = false;
  }

  function hideError() {
    var banner = document.getElementById("htmx-error");
    if (banner) { banner.hidden = true; }
  }

  document.addEventListener("htmx:responseError", function (event) {
    showError(event.detail.xhr ? event.detail.xhr.status : 0);
  });
  document.addEventListener("htmx:sendError", function () { showError(0); });
  document.addEventListener("htmx:beforeRequest", hideError);
})();

/* Focus after htmx swaps, as the GOV.UK pattern does: a failed submit (422) moves focus to the error summary,
   scrolled into view and announced; a successful step change or an inline edit opening moves focus to the new
   heading, else the first field. Only after what the person did (a submit or a click) — never after polling. */
(function () {
  "use strict";

  function focusOn(element) {
    if (!element) { return false; }
    if (!element.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(element.tagName)) {
      element.setAttribute("tabindex", "-1");
    }
    element.scrollIntoView({block: "start"});
    element.focus({preventScroll: true});
    return document.activeElement === element;
  }

  function firstField(root) {
    return root.querySelector("input:not([type=hidden]):not([disabled]), select:not([disabled]), " +
                              "textarea:not([disabled])");
  }

  // A page reached by a step change (a full load after "Save and continue") starts with its heading focused.
  var start = document.querySelector("[data-focus-on-load]");
  if (start && !window.location.hash && document.activeElement === document.body) {
    start.focus({preventScroll: true});
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail || {};
    var trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
    if (!trigger || (trigger.type !== "submit" && trigger.type !== "click")) { return; }
    var target = detail.target;
    if (target && !document.contains(target)) {  // swapped with outerHTML: its replacement has its id
      target = target.id ? document.getElementById(target.id) : null;
    }
    target = target || document.querySelector("main") || document.body;
    var status = detail.xhr ? detail.xhr.status : 0;
    if (status === 422) {
      focusOn(target.querySelector(".error-summary") || document.querySelector(".error-summary"));
      return;
    }
    if (status >= 200 && status < 300) {
      focusOn(target.querySelector("h1, h2, h3")) || focusOn(firstField(target));
    }
  });
})();
