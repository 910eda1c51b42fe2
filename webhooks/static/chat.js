// Web chat: send messages and photos, poll the conversation for the bot's answers.
(function () {
  "use strict";
  const conversation = document.getElementById("conversation");
  const form = document.getElementById("composer");
  const text = document.getElementById("text");
  const photo = document.getElementById("photo");
  const status = document.getElementById("status");
  const shown = new Set();
  let cursor = 0;
  let polling = null;

  const newId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

  // Text as text nodes, never HTML; the addresses in it (the tracking page's) as links.
  function appendText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(/https?:\/\/[^\s<>"]+/g)) {
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      const link = document.createElement("a");
      link.href = link.textContent = match[0];
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      parent.appendChild(link);
      last = match.index + match[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(message) {
    if (shown.has(message.id)) return;
    shown.add(message.id);
    const bubble = document.createElement("div");
    bubble.className = "message " + message.direction + (message.from ? " staff" : "");
    bubble.dataset.direction = message.direction;
    if (message.from) {  // a person answered, not the automatic assistant
      const who = document.createElement("div");
      who.className = "from";
      who.textContent = message.from;
      bubble.appendChild(who);
    }
    if (message.text) appendText(bubble, message.text);
    for (const src of message.photos || []) {
      const img = document.createElement("img");
      img.src = src;
      img.alt = message.direction === "out" ? "Ảnh Tổng đài 1022 gửi" : "Ảnh anh/chị đã gửi";
      bubble.appendChild(img);
    }
    conversation.appendChild(bubble);
    document.querySelectorAll(".choices").forEach((row) => row.remove());  // only the latest offer stays
    if (message.direction === "out" && (message.choices || []).length) {
      const row = document.createElement("div");
      row.className = "choices";
      for (const choice of message.choices) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = choice.title;
        button.addEventListener("click", () => sendText(choice.title, choice.payload));
        row.appendChild(button);
      }
      conversation.appendChild(row);
    }
    conversation.scrollTop = conversation.scrollHeight;
  }

  async function refresh() {
    try {
      const response = await fetch("/chat/messages?after=" + cursor, { credentials: "same-origin" });
      if (!response.ok) return;
      const body = await response.json();
      body.messages.forEach(render);
      cursor = body.cursor;
    } catch (e) { /* offline for a moment: the next poll catches up */ }
  }

  function pollSoon() {
    clearInterval(polling);
    refresh();
    polling = setInterval(refresh, 1500);
  }

  async function send(request, what) {
    status.textContent = "Đang gửi " + what + "…";
    form.querySelector("button").disabled = true;
    try {
      const response = await request();
      const body = await response.json().catch(() => ({}));
      status.textContent = response.ok ? "" : (body.error || "Gửi không thành công, anh/chị vui lòng thử lại.");
      return response.ok;
    } catch (e) {
      status.textContent = "Mất kết nối. Anh/chị vui lòng kiểm tra mạng và gửi lại.";
      return false;
    } finally {
      form.querySelector("button").disabled = false;
      pollSoon();
    }
  }

  function sendText(value, payload) {
    const id = newId();
    return send(() => fetch("/chat/messages", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Message-Id": id },
      body: JSON.stringify({ text: value, id: id, payload: payload || null }),
    }), "tin nhắn");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    if (await sendText(value)) text.value = "";
  });

  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  photo.addEventListener("change", async () => {
    if (!photo.files.length) return;
    const data = new FormData();
    data.append("photo", photo.files[0]);
    data.append("caption", text.value.trim());
    const ok = await send(() => fetch("/chat/photos", {
      method: "POST", credentials: "same-origin",
      headers: { "X-Requested-With": "tongdai1022", "X-Message-Id": newId() }, body: data,
    }), "ảnh");
    if (ok) text.value = "";
    photo.value = "";
  });

  pollSoon();
})();
