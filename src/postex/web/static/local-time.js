// Public pages: next to each event's local time, the same moment in the reader's own time
// zone (the page itself shows the place's time, which needs no script).
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short"
  });
  document.querySelectorAll("span.yours[data-utc]").forEach(function (el) {
    var when = new Date(el.getAttribute("data-utc"));
    if (isNaN(when.getTime())) { return; }
    el.textContent = "· your time " + fmt.format(when);
    el.hidden = false;
  });
})();
