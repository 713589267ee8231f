// The passenger site's one script: while an order awaits payment, follow its WatchOrder stream
// (relayed as Server-Sent Events) and open the order once it is paid.  Without this script the
// order page refreshes itself instead (<noscript> meta refresh).
(function () {
  "use strict";
  var status = document.getElementById("order-status");
  if (!status || !window.EventSource) { return; }
  var events = new EventSource(status.getAttribute("data-watch"));
  events.addEventListener("status", function (event) {
    if (event.data !== "ORDER_STATUS_PENDING_PAYMENT") {
      events.close();
      window.location.assign(status.getAttribute("data-next"));
    }
  });
  events.addEventListener("refused", function () { events.close(); });
})();
