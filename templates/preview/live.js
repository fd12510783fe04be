// digest preview: live reload and frame sizing. No framework, no inline script (the CSP forbids it).
// - poll /version and reload when it changes, keeping the scroll position;
// - a half-typed form is never thrown away;
// - desktop frames grow to the digest's full height, so the page scrolls, not the frame.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="digest-version"]');
  var current = meta ? meta.getAttribute("content") : "";
  var key = "digest-preview-scroll " + location.pathname + location.search;

  function remember(name, value) {
    try { sessionStorage.setItem(name, value); } catch (e) { /* storage off: no scroll memory */ }
  }
  function recall(name) {
    try {
      var value = sessionStorage.getItem(name);
      sessionStorage.removeItem(name);
      return value;
    } catch (e) { return null; }
  }

  function fit(frame) {
    try {
      var root = frame.contentDocument && frame.contentDocument.documentElement;
      if (root && root.scrollHeight > 0) { frame.style.height = (root.scrollHeight + 2) + "px"; }
    } catch (e) { /* not readable: the frame keeps its own scrollbar */ }
  }
  var frames = document.querySelectorAll("iframe.fit");
  Array.prototype.forEach.call(frames, function (frame) {
    frame.addEventListener("load", function () { fit(frame); });
    fit(frame);
  });

  var saved = recall(key);
  function restore() {
    Array.prototype.forEach.call(frames, fit);
    if (saved !== null) { window.scrollTo(0, parseInt(saved, 10) || 0); }
  }
  if (document.readyState === "complete") { restore(); } else { window.addEventListener("load", restore); }

  if (!meta || !window.fetch) { return; }
  function typing() {
    var el = document.activeElement;
    return !!(el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA") && el.value);
  }
  // A submitted form is already taking the page elsewhere: a reload now would cancel that navigation
  // (the action itself has happened on the server, and the change it made is what the poll sees).
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; });
  function later() { window.setTimeout(check, 1000); }
  function check() {
    if (leaving) { return; }
    fetch("/version", { cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.version && data.version !== current && !typing() && !leaving) {
          remember(key, String(window.scrollY));
          window.location.reload();
          return;
        }
        later();
      })
      .catch(later);
  }
  later();
})();
