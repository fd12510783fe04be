// digest preview: the intro editor's live render. The server renders the Markdown exactly as the
// digest will (markdown-it with raw HTML off, then nh3), so what shows here is what readers get.
(function () {
  "use strict";
  var source = document.getElementById("intro-source");
  var target = document.getElementById("intro-render");
  if (!source || !target || !window.fetch) { return; }
  var token = source.form.querySelector('input[name="token"]').value;
  var timer = null;
  var sent = 0;

  function render() {
    var ticket = ++sent;
    var body = new URLSearchParams({ token: token, value: source.value });
    fetch(source.getAttribute("data-render"), { method: "POST", body: body, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (ticket !== sent) { return; } // an older answer arriving late
        if (data.error) { target.textContent = data.error; return; }
        target.innerHTML = data.html; // sanitized by the server (nh3); the CSP runs no inline script
      })
      .catch(function () { /* the server is restarting: the next keystroke tries again */ });
  }
  source.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(render, 250);
  });
})();
