// The console's live parts, without a library: the header menu on a phone; parts of a page that
// refresh themselves (the queue, a chat's history); the live poll every page makes (waiting count
// in the tab title, a sound and a notification for urgent chats, new messages in my chats and new
// alerts); a banner when the session ended or the server stopped answering, so a page never looks
// alive while it is not; canned replies ("/" and a shortcut) and Ctrl+Enter in the reply box.
(function () {
  "use strict";
  var body = document.body;
  var baseTitle = document.title;
  document.documentElement.classList.add("js");
  var LIVE_SECONDS = Number(body.dataset.liveSeconds || 5), HIDDEN_LIVE_SECONDS = 2 * LIVE_SECONDS;

  // ---- the header menu (a phone) and panels folded on a phone, open on a wide screen ----------
  var toggle = document.querySelector(".menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      document.querySelector(".top").classList.toggle("open", open);
    });
  }
  if (window.matchMedia("(min-width: 701px)").matches) {
    document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
  }

  // ---- the connection: every poll says whether the server and the session are still there -----
  var banner = document.getElementById("connection");
  var connection = "ok";
  function setConnection(state) {
    if (!banner || state === connection) { return; }
    var was = connection;
    connection = state;
    if (state === "ok") {
      if (was === "offline" || was === "signed_out") {
        banner.dataset.state = "back";
        banner.hidden = false;
        window.setTimeout(function () { if (connection === "ok") { banner.hidden = true; } }, 4000);
        refreshParts();
      }
      return;
    }
    banner.dataset.state = state;
    banner.hidden = false;
    var next = banner.querySelector("[data-next]");
    if (next) { next.href = body.dataset.loginUrl + "?next=" + encodeURIComponent(location.pathname + location.search); }
    document.title = (state === "signed_out" ? "[Đã đăng xuất] " : "[Mất kết nối] ") + baseTitle;
  }
  // A session ends after a while without the person doing anything; the page's own polling is not
  // them, unless they typed or clicked in the page since the last poll (bot/console/sessions.py).
  var used = false;
  ["keydown", "pointerdown", "input"].forEach(function (kind) {
    document.addEventListener(kind, function () { used = true; }, { capture: true, passive: true });
  });
  function poll(url, accept) {
    var headers = { "Accept": accept, "X-Console-Poll": "1" };
    if (used) { headers["X-Console-Active"] = "1"; used = false; }
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers })
      .then(function (response) {
        // The sign-in page (a redirect) or a refusal: the session is over, whatever the page shows.
        if (response.status === 401 || response.status === 403 ||
            (response.redirected && response.url.indexOf("/console/login") !== -1)) {
          setConnection("signed_out");
          throw new Error("signed out");
        }
        if (!response.ok) {
          setConnection("offline");
          throw new Error("HTTP " + response.status);
        }
        setConnection("ok");
        return response;
      }, function (error) {
        setConnection("offline");
        throw error;
      });
  }

  // ---- parts of a page that refresh themselves ------------------------------------------------
  var parts = Array.prototype.slice.call(document.querySelectorAll("[data-refresh-url]"));
  function refresh(part) {
    if (document.hidden) { return; }
    var stick = part.hasAttribute("data-stick-bottom");
    poll(part.dataset.refreshUrl, "text/html")
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (html === part.dataset.last) { return; }
        var atBottom = part.scrollHeight - part.scrollTop - part.clientHeight < 40;
        part.dataset.last = html;
        part.innerHTML = html;  // rendered by the server's templates, escaped there
        if (stick && atBottom) { part.scrollTop = part.scrollHeight; }
      })
      .catch(function () { /* the banner says why; the next round tries again */ });
  }
  function refreshParts() { parts.forEach(refresh); }
  parts.forEach(function (part) {
    if (part.hasAttribute("data-stick-bottom")) { part.scrollTop = part.scrollHeight; }
    window.setInterval(function () { refresh(part); }, Number(part.dataset.refreshSeconds || 5) * 1000);
  });

  // ---- the live poll: title, badges, sound, notifications -----------------------------------
  var seen = {};
  try { seen = JSON.parse(sessionStorage.getItem("console-seen") || "{}"); } catch (e) { seen = {}; }
  seen.urgent = seen.urgent || {}; seen.unread = seen.unread || {}; seen.alerts = seen.alerts || {};
  var toast = document.getElementById("live-alert");
  var audio = null;

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.15;
      tone.connect(gain);
      gain.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.3);
    } catch (e) { /* no sound on this device: the notification and the toast remain */ }
  }
  function raise(title, text, url) {
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        var note = new Notification(title, { body: text, tag: url, lang: "vi" });
        note.onclick = function () { window.focus(); location.href = url; };
      } catch (e) { /* some browsers allow notifications only from a service worker */ }
    }
    if (toast) {
      var link = toast.querySelector("[data-alert-link]");
      link.textContent = title + ": " + text;
      link.href = url;
      toast.hidden = false;
    }
  }
  if (toast) {
    toast.querySelector("[data-dismiss]").addEventListener("click", function () { toast.hidden = true; });
  }
  function setBadge(name, count) {
    document.querySelectorAll('[data-badge="' + name + '"]').forEach(function (badge) {
      badge.textContent = count;
      badge.hidden = !count;
    });
  }
  function onLive(data) {
    var waiting = data.waiting || 0;
    var count = "waiting" in data ? waiting : data.alerts;
    document.title = (count ? "(" + count + ") " : "") + baseTitle;
    setBadge("waiting", waiting);
    setBadge("alerts", data.alerts);
    var here = body.dataset.chatKey;
    (data.urgent || []).forEach(function (chat) {
      if (!seen.urgent[chat.key]) {
        seen.urgent[chat.key] = 1;
        raise("Cuộc trò chuyện khẩn", chat.name + (chat.reason ? " — " + chat.reason : ""), chat.url);
      }
    });
    (data.unread || []).forEach(function (chat) {
      if ((seen.unread[chat.key] || 0) < chat.ts) {
        seen.unread[chat.key] = chat.ts;
        if (chat.key !== here || document.hidden) { raise("Tin nhắn mới", chat.name + ": " + chat.text, chat.url); }
      }
    });
    (data.latest_alerts || []).forEach(function (alert) {
      if (!seen.alerts[alert.key]) {
        seen.alerts[alert.key] = 1;
        raise("Thông báo", alert.text, alert.url);
      }
    });
    try { sessionStorage.setItem("console-seen", JSON.stringify(seen)); } catch (e) { /* private mode */ }
  }
  function live() {
    poll(body.dataset.liveUrl, "application/json")
      .then(function (response) { return response.json(); })
      .then(onLive)
      .catch(function () { /* the banner says why */ })
      .then(function () {
        window.setTimeout(live, (document.hidden ? HIDDEN_LIVE_SECONDS : LIVE_SECONDS) * 1000);
      });
  }
  if (body.dataset.liveUrl) { live(); }

  var offer = document.querySelector(".notify-offer");
  if (offer && "Notification" in window && Notification.permission === "default" && !sessionStorage.getItem("notify-later")) {
    offer.hidden = false;
    offer.querySelector("[data-enable-notifications]").addEventListener("click", function () {
      beep();  // a click lets the page make sounds from now on
      Notification.requestPermission().then(function () { offer.hidden = true; });
    });
    offer.querySelector("[data-later]").addEventListener("click", function () {
      sessionStorage.setItem("notify-later", "1");
      offer.hidden = true;
    });
  }

  // ---- the reply box: canned replies, "/" shortcuts, Ctrl+Enter --------------------------------
  var reply = document.getElementById("reply-text");
  var suggest = document.getElementById("canned-suggest");
  var canned = Array.prototype.slice.call(document.querySelectorAll("[data-insert]"));
  function insert(text) {
    var value = reply.value, end = reply.selectionStart;
    var start = value.lastIndexOf("/", end - 1);
    var token = start >= 0 && /^\/\S*$/.test(value.slice(start, end)) && (start === 0 || /\s/.test(value[start - 1]));
    if (!token) { start = end; }
    reply.value = value.slice(0, start) + text + value.slice(end);
    reply.selectionStart = reply.selectionEnd = start + text.length;
    hideSuggest();
    reply.focus();
    reply.dispatchEvent(new Event("input"));
  }
  function hideSuggest() { if (suggest) { suggest.hidden = true; suggest.innerHTML = ""; } }
  function showSuggest() {
    var before = reply.value.slice(0, reply.selectionStart);
    var match = /(?:^|\s)\/(\S*)$/.exec(before);
    if (!match || !canned.length) { hideSuggest(); return; }
    var typed = match[1].toLowerCase();
    var found = canned.filter(function (b) { return b.dataset.shortcut.indexOf(typed) === 0; });
    if (!found.length) { hideSuggest(); return; }
    suggest.innerHTML = "";
    found.forEach(function (button, n) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", n === 0 ? "true" : "false");
      item.textContent = button.textContent;
      item.dataset.text = button.dataset.insert;
      item.addEventListener("mousedown", function (event) { event.preventDefault(); insert(item.dataset.text); });
      suggest.appendChild(item);
    });
    suggest.hidden = false;
  }
  function moveSelection(step) {
    var items = Array.prototype.slice.call(suggest.children);
    var at = items.findIndex(function (i) { return i.getAttribute("aria-selected") === "true"; });
    var next = (at + step + items.length) % items.length;
    items.forEach(function (item, n) { item.setAttribute("aria-selected", n === next ? "true" : "false"); });
  }
  if (reply) {
    canned.forEach(function (button) {
      button.addEventListener("click", function () {
        insert(button.dataset.insert);
        var box = button.closest("details");
        if (box) { box.open = false; }
      });
    });
    reply.addEventListener("input", showSuggest);
    reply.addEventListener("blur", function () { window.setTimeout(hideSuggest, 150); });
    reply.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        hideSuggest();
        if (!reply.disabled) { reply.form.requestSubmit(); }
        return;
      }
      if (!suggest || suggest.hidden) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        moveSelection(event.key === "ArrowDown" ? 1 : -1);
      } else if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        insert(suggest.querySelector('[aria-selected="true"]').dataset.text);
      } else if (event.key === "Escape") {
        hideSuggest();
      }
    });
    var photo = document.getElementById("reply-photo"), name = document.querySelector("[data-file-name]");
    if (photo && name) {
      photo.addEventListener("change", function () { name.textContent = photo.files.length ? photo.files[0].name : ""; });
    }
  }

  // ---- a form cannot be sent twice by a double click -------------------------------------------
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        window.setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });
})();
