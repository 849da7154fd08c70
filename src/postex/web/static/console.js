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
  // A keyboard-wedge scale types its reading and Enter into the focused field, as a scanner
  // does: "853", "853 g" or "0.853 kg" in the scan field is a weight, not an item. It goes
  // into the weight field for the next scan, and is used for that one item only.
  var WEIGHT = /^(\d{1,6}(?:[.,]\d{1,3})?)\s*(g|kg)?$/i;
  var fromScale = false;
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    var f = scanField(), w = document.getElementById("weight");
    if (!f || !w || e.detail.elt !== f.form) { return; }
    var m = WEIGHT.exec(f.value.trim());
    if (!m) { return; }
    e.preventDefault();
    var grams = parseFloat(m[1].replace(",", "."));
    if ((m[2] || "").toLowerCase() === "kg" || (!m[2] && m[1].match(/[.,]/))) { grams *= 1000; }
    w.value = String(Math.round(grams));
    fromScale = true;
    var note = document.getElementById("weight-note");
    if (note) { note.textContent = "Weight " + w.value + " g from the scale: now scan the item."; }
    f.value = "";
    f.focus();
  });
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
    if (fromScale) {  // a scale's reading weighs one item: the next one is weighed afresh
      var w = document.getElementById("weight"), note = document.getElementById("weight-note");
      if (w) { w.value = ""; }
      if (note) { note.textContent = ""; }
      fromScale = false;
    }
  });
  refocus();
})();
