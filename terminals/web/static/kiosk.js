// The kiosk's screens (terminals/web/kiosk.py): the idle reset, the payment watch, printing.
(function () {
  "use strict";
  var frame = document.getElementById("kiosk-frame");
  if (!frame) {
    return;
  }
  var idleMs = Number(frame.getAttribute("data-idle-seconds")) * 1000;
  var csrf = frame.getAttribute("data-csrf");
  var atStart = frame.hasAttribute("data-start");

  // Nothing of a passenger in the address bar: each page keeps only its bare path.
  if (location.search || location.hash) {
    history.replaceState(null, "", location.pathname);
  }

  // After idleMs without input: clear the forms, drop the flow on the server, back to the start,
  // replacing this page in the history.
  var timer = null;
  function startOver() {
    document.body.classList.add("kiosk-resetting");
    Array.prototype.forEach.call(document.forms, function (form) { form.reset(); });
    fetch("/kiosk/reset", {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      credentials: "same-origin",
      redirect: "manual"
    }).catch(function () {}).then(function () { location.replace("/kiosk"); });
  }
  function arm() {
    clearTimeout(timer);
    if (!atStart) {
      timer = setTimeout(startOver, idleMs);
    }
  }
  ["pointerdown", "keydown", "input", "touchstart"].forEach(function (name) {
    document.addEventListener(name, arm, { passive: true });
  });
  arm();

  // The payment screen follows the order (WatchOrder, as server-sent events).
  var watch = frame.getAttribute("data-watch");
  if (watch) {
    var source = new EventSource(watch);
    var closed = function () {
      source.close();
      document.getElementById("pay-waiting").hidden = true;
      document.getElementById("pay-closed").hidden = false;
    };
    source.addEventListener("ticketed", function () {
      source.close();
      location.replace("/kiosk/buy/print");
    });
    source.addEventListener("closed", closed);
    source.addEventListener("failed", closed);
  }

  // The tickets screen prints its PDF once it has loaded (a kiosk's Chromium runs with
  // --kiosk-printing: no dialog, the default printer), unless the station turned it off.
  var pdf = document.getElementById("ticket-pdf");
  if (pdf && pdf.hasAttribute("data-autoprint")) {
    pdf.addEventListener("load", function () {
      try {
        pdf.contentWindow.print();
      } catch (e) {
        // a browser without a PDF viewer in frames: the kiosk's printer service prints it instead
      }
    });
  }
})();
