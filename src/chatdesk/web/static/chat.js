// The customer chat page: talks to the customer API v1 and keeps the conversation across reloads.
(() => {
  "use strict";
  const STORAGE_KEY = "chatdesk.conversation";
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const humanButton = document.getElementById("human");
  const statusBox = document.getElementById("status");
  const errorBox = document.getElementById("error");
  let conversation = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
  const shown = new Set();

  async function api(method, path, body, extraHeaders = {}) {
    const headers = { Accept: "application/json", ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (conversation) headers.Authorization = `Bearer ${conversation.token}`;
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.detail || `The server answered ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  async function ensureConversation() {
    if (conversation) return conversation;
    const created = await api("POST", "/api/v1/conversations", { channel: "web" });
    conversation = { id: created.id, token: created.token };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(conversation));
    return conversation;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function render(message) {
    if (!message || shown.has(message.id)) return;
    shown.add(message.id);
    const item = element("li", `message ${message.role}`);
    item.dataset.id = message.id;
    if (message.answered_by) item.dataset.answeredBy = message.answered_by;
    item.appendChild(element("div", "bubble", message.text));
    if (message.sources && message.sources.length) {
      const sources = element("div", "sources");
      sources.appendChild(element("span", "label", "Source: "));
      message.sources.forEach((source, index) => {
        const link = element("a", "source", source.title);
        link.href = source.url;
        link.target = "_blank";
        link.rel = "noopener";
        if (index) sources.appendChild(document.createTextNode(", "));
        sources.appendChild(link);
      });
      item.appendChild(sources);
    }
    if (message.handoff) item.appendChild(element("div", "handoff-notice", "Handed over to a person"));
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function showStatus(status) {
    const text = {
      waiting: "You're in the queue: a member of our team will reply here.",
      agent: "You're chatting with a member of our team.",
    }[status];
    statusBox.hidden = !text;
    statusBox.textContent = text || "";
    humanButton.disabled = status === "waiting" || status === "agent";
  }

  function showError(message) {
    errorBox.hidden = !message;
    errorBox.textContent = message || "";
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    input.readOnly = busy;
    list.classList.toggle("typing", busy);
  }

  async function send(text) {
    const key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    await ensureConversation();
    const path = `/api/v1/conversations/${conversation.id}/messages`;
    try {
      return await api("POST", path, { text }, { "Idempotency-Key": key });
    } catch (error) {
      if (error.status) throw error;
      return api("POST", path, { text }, { "Idempotency-Key": key }); // network blip: retry once, safely
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    showError("");
    setBusy(true);
    try {
      const result = await send(text);
      input.value = "";
      render(result.message);
      render(result.reply);
      if (result.reply && result.reply.handoff) showStatus("waiting");
    } catch (error) {
      showError(error.message);
    } finally {
      setBusy(false);
      input.focus();
    }
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  humanButton.addEventListener("click", async () => {
    showError("");
    try {
      await ensureConversation();
      const updated = await api("POST", `/api/v1/conversations/${conversation.id}/handoff`, {});
      updated.messages.forEach(render);
      showStatus(updated.status);
    } catch (error) {
      showError(error.message);
    }
  });

  async function restore() {
    if (!conversation) return;
    try {
      const stored = await api("GET", `/api/v1/conversations/${conversation.id}`);
      stored.messages.forEach(render);
      showStatus(stored.status);
    } catch (error) {
      if (error.status === 404 || error.status === 403 || error.status === 401) {
        localStorage.removeItem(STORAGE_KEY);
        conversation = null;
      } else {
        showError(error.message);
      }
    }
  }

  restore();
})();
