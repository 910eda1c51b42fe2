// Parts of a page that refresh themselves (the queue, a chat's history) without a reload:
// short polling, paused while the tab is hidden.
(function () {
  "use strict";
  document.querySelectorAll("[data-refresh-url]").forEach(function (part) {
    var seconds = Number(part.dataset.refreshSeconds || 5);
    var stick = part.hasAttribute("data-stick-bottom");
    if (stick) { part.scrollTop = part.scrollHeight; }
    function refresh() {
      if (document.hidden) { return; }
      fetch(part.dataset.refreshUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          if (html === part.dataset.last) { return; }
          var atBottom = part.scrollHeight - part.scrollTop - part.clientHeight < 40;
          part.dataset.last = html;
          part.innerHTML = html;  // rendered by the server's templates, escaped there
          if (stick && atBottom) { part.scrollTop = part.scrollHeight; }
        })
        .catch(function () { /* the next round tries again */ });
    }
    window.setInterval(refresh, seconds * 1000);
  });
  // A reply form cannot be sent twice by a double click.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        window.setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });
})();
