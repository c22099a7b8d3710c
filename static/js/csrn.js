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
