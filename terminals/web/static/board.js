// The departure board's screen: live departures over Server-Sent Events (/board/events), shown a
// page at a time, flipping by itself.  The web process sends the whole day first ("snapshot"),
// then changes ("update") and its connection to the station ("status").  EventSource reconnects
// by itself when the web process goes away; the next snapshot replaces what is shown.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("board-config").textContent);
  var labels = config.labels;
  var first = config.lang === "en" ? 1 : 0;
  var FLIP_MS = 8000;          // each page stays this long
  var ANNOUNCE_MS = 7000;      // each announcement stays this long
  var KEEP_DEPARTED_MS = 10 * 60 * 1000;  // a departed coach stays on the board this long

  var departures = {};
  var announcements = [];
  var page = 0;
  var announcementIndex = 0;
  var rows = document.getElementById("board-rows");
  var statusLine = document.getElementById("board-status");

  function text(key, values) {
    var pair = labels[key] || [key, key];
    var s = pair[first];
    for (var name in values || {}) { s = s.replace("{" + name + "}", values[name]); }
    return s;
  }
  function both(key, values) {  // the screen's language first, the other one under it
    var pair = labels[key] || [key, key];
    var other = pair[1 - first];
    for (var name in values || {}) { other = other.replace("{" + name + "}", values[name]); }
    return [text(key, values), other];
  }
  function cell(className, main, second) {
    var td = document.createElement("td");
    td.className = className;
    td.appendChild(document.createTextNode(main));
    if (second) {
      var small = document.createElement("span");
      small.className = "second";
      small.textContent = second;
      td.appendChild(small);
    }
    return td;
  }

  function statusWords(d) {  // [in the screen's language, in the other]
    var minutes = both("minutes", {n: d.delay});
    if (d.status === "delayed") { return [text("delayed") + " " + minutes[0], both("delayed")[1] + " " + minutes[1]]; }
    if (d.status === "boarding" && d.delay > 0) { return [text("boarding") + " +" + minutes[0], both("boarding")[1] + " +" + minutes[1]]; }
    return both(d.status);
  }

  function row(d) {
    var tr = document.createElement("tr");
    tr.className = "status-" + d.status;
    tr.dataset.trip = d.id;
    tr.dataset.status = d.status;
    tr.dataset.delay = d.delay;
    tr.dataset.gate = d.gate;
    var time = document.createElement("td");
    time.className = "time";
    if (d.delay > 0 && d.status !== "cancelled") {
      var was = document.createElement("s");
      was.textContent = d.scheduled;
      time.appendChild(was);
      time.appendChild(document.createTextNode(d.expected));
    } else {
      time.textContent = d.scheduled;
    }
    tr.appendChild(time);
    tr.appendChild(cell("trip", d.schedule));
    var to = cell("destination", d.to);
    if (d.via.length) {
      var via = document.createElement("span");
      via.className = "via";
      via.textContent = text("via") + " " + d.via.join(" · ");
      to.appendChild(via);
    }
    tr.appendChild(to);
    tr.appendChild(cell("gate", d.gate || "–"));
    var seats = d.seats.length ? d.seats[d.seats.length - 1][1] : 0;
    tr.appendChild(cell("seats", String(seats)));
    var words = statusWords(d);
    tr.appendChild(cell("status", words[0], words[1]));
    return tr;
  }

  function shown() {
    var now = Date.now();
    return Object.keys(departures).map(function (id) { return departures[id]; })
      .filter(function (d) { return d.status !== "departed" || now - d.expected_ms < KEEP_DEPARTED_MS; })
      .sort(function (a, b) { return a.scheduled_ms - b.scheduled_ms || (a.id < b.id ? -1 : 1); });
  }

  function rowsPerPage() {
    var header = document.querySelector(".board-top").offsetHeight + document.querySelector(".departures thead").offsetHeight;
    var notice = announcements.length ? document.getElementById("board-announcements").offsetHeight : 0;
    var sample = rows.querySelector("tr");
    var height = sample ? sample.offsetHeight : 48;
    return Math.max(3, Math.floor((window.innerHeight - header - notice - 8) / Math.max(height, 24)));
  }

  function render() {
    var list = shown();
    rows.textContent = "";
    list.forEach(function (d) { rows.appendChild(row(d)); });
    document.getElementById("board-empty").hidden = list.length > 0;
    paginate();
  }

  function paginate() {
    var all = rows.querySelectorAll("tr");
    var per = rowsPerPage();
    var pages = Math.max(1, Math.ceil(all.length / per));
    if (page >= pages) { page = 0; }
    for (var i = 0; i < all.length; i++) { all[i].hidden = Math.floor(i / per) !== page; }
    document.getElementById("board-page").textContent = pages > 1 ? text("page", {page: page + 1, pages: pages}) : "";
    return pages;
  }

  function flip() {
    page += 1;
    paginate();
  }

  function showAnnouncement() {
    var box = document.getElementById("board-announcements");
    var now = Date.now();
    var live = announcements.filter(function (a) { return a.ends_ms > now; });
    box.hidden = live.length === 0;
    if (!live.length) { return; }
    var a = live[announcementIndex % live.length];
    announcementIndex += 1;
    box.textContent = "";
    var kind = document.createElement("span");
    kind.className = "kind " + a.kind;
    kind.textContent = text(a.kind);
    box.appendChild(kind);
    var words = document.createElement("span");
    words.className = "words";
    words.dataset.announcement = a.id;
    words.textContent = first === 1 && a.en ? a.en : a.zh;
    box.appendChild(words);
    if (a.en && first === 0) {
      var en = document.createElement("span");
      en.className = "second";
      en.textContent = a.en;
      box.appendChild(en);
    }
  }

  function connection(connected) {
    statusLine.textContent = connected ? "" : text("reconnecting");
    statusLine.classList.toggle("lost", !connected);
    document.body.dataset.connected = connected ? "yes" : "no";
  }

  function clock() {
    var now = new Date(Date.now() + 8 * 3600 * 1000);  // the station's time, Beijing
    var hh = String(now.getUTCHours()).padStart(2, "0");
    var mm = String(now.getUTCMinutes()).padStart(2, "0");
    var ss = String(now.getUTCSeconds()).padStart(2, "0");
    document.getElementById("board-clock").textContent = hh + ":" + mm + ":" + ss;
  }

  var source = new EventSource("/board/events?station=" + encodeURIComponent(config.station));
  source.addEventListener("snapshot", function (event) {
    var data = JSON.parse(event.data);
    departures = {};
    data.departures.forEach(function (d) { departures[d.id] = d; });
    announcements = data.announcements;
    connection(data.connected);
    render();
    showAnnouncement();
  });
  source.addEventListener("update", function (event) {
    var data = JSON.parse(event.data);
    data.departures.forEach(function (d) { departures[d.id] = d; });
    data.removed.forEach(function (id) { delete departures[id]; });
    if (data.announcements) { announcements = data.announcements; announcementIndex = 0; showAnnouncement(); }
    render();
  });
  source.addEventListener("status", function (event) { connection(JSON.parse(event.data).connected); });
  source.onerror = function () { connection(false); };  // EventSource tries again by itself

  clock();
  setInterval(clock, 1000);
  setInterval(flip, FLIP_MS);
  setInterval(showAnnouncement, ANNOUNCE_MS);
  window.addEventListener("resize", paginate);
})();
