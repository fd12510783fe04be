// Live reload for `digest preview`: poll /version and reload when it changes.
// The scroll position survives the reload; a half-typed form is never thrown away.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="digest-version"]');
  if (!meta || !window.fetch) { return; }
  var current = meta.getAttribute("content");
  var key = "digest-preview-scroll " + location.pathname + location.search;

  function remember(name, value) {
    try { sessionStorage.setItem(name, value); } catch (e) { /* storage off: no scroll memory */ }
  }
  function recall(name) {
    try { var v = sessionStorage.getItem(name); sessionStorage.removeItem(name); return v; } catch (e) { return null; }
  }

  var saved = recall(key);
  if (saved !== null) { window.scrollTo(0, parseInt(saved, 10) || 0); }

  function typing() {
    var el = document.activeElement;
    return !!(el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA") && el.value);
  }
  function later() { window.setTimeout(check, 1000); }
  function check() {
    fetch("/version", { cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.version && data.version !== current && !typing()) {
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
