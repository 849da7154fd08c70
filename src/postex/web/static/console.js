// Postex console: keeps the scan field focused, plays the outcome's sound, and sends the
// session's CSRF token on every htmx request. No inline script: the page's CSP forbids it.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (token) { e.detail.headers["X-CSRF-Token"] = token.content; }
  });
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status >= 400 && status < 500) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
  function scanField() { return document.getElementById("scan"); }
  // Back to the scan field unless the person chose another field, list or button.
  var KEEP = { INPUT: 1, SELECT: 1, TEXTAREA: 1, BUTTON: 1, A: 1 };
  function refocus() {
    var f = scanField(), a = document.activeElement;
    if (f && a !== f && !(a && KEEP[a.tagName])) { f.focus(); }
  }
  document.addEventListener("click", function () { window.setTimeout(refocus, 0); });
  window.addEventListener("focus", refocus);
  document.body.addEventListener("htmx:afterSwap", function () {
    var answer = document.querySelector("#answer [data-outcome]");
    if (answer) {
      var audio = document.getElementById("sound-" + answer.getAttribute("data-outcome"));
      if (audio) { audio.currentTime = 0; audio.play().catch(function () {}); }
    }
    var f = scanField();
    if (f) { f.value = ""; f.focus(); }
  });
  refocus();
})();
