// tackbridge dashboard: live parts of a page. The body names an event stream (data-live-url)
// and the page's stamp; on "changed" the page is fetched again and every element marked
// data-live is swapped for its new version (by id), so what the user is typing stays.
(function () {
  "use strict";
  var body = document.body;
  var url = body.dataset.liveUrl;
  if (!url || !window.EventSource) { return; }
  var refreshing = false;
  var again = false;

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var changed = 0;
    doc.querySelectorAll("[data-live][id]").forEach(function (fresh) {
      var old = document.getElementById(fresh.id);
      if (old && old.innerHTML !== fresh.innerHTML) {
        old.replaceWith(document.importNode(fresh, true));
        changed += 1;
      }
    });
    var status = document.getElementById("live-status");
    if (changed && status) {
      status.textContent = "Updated at " + new Date().toLocaleTimeString();
    }
    var stamp = doc.body && doc.body.dataset.stamp;
    if (stamp) { body.dataset.stamp = stamp; }
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (r) {
        if (r.redirected || r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html) { swap(html); } })
      .catch(function () { /* the next change or tick tries again */ })
      .then(function () {
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = null;
  function connect() {
    var sep = url.indexOf("?") < 0 ? "?" : "&";
    source = new EventSource(url + sep + "since=" + encodeURIComponent(body.dataset.stamp || ""));
    source.addEventListener("ready", function () { body.dataset.live = "on"; });
    source.addEventListener("changed", function (e) {
      body.dataset.stamp = e.data;
      refresh();
    });
    source.onerror = function () {
      body.dataset.live = "reconnecting";
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 2000); }
    };
  }
  connect();
  // Time left to answer moves with the clock, not only with the data.
  setInterval(refresh, 60000);
})();
