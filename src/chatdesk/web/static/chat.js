// The customer chat page: talks to the customer API v1, keeps the conversation across reloads,
// and follows it live (agent replies, system notices, status) through its event stream.
(() => {
  "use strict";
  const STORAGE_KEY = "chatdesk.conversation";
  // The handoff notice sent outside business hours ends with this offer (engine/messages.py).
  const RETRY_MS = 3000;
  const STATUS_TEXT = {
    waiting: "You're in the queue: a member of our team will reply here.",
    agent: "You're chatting with a member of our team.",
    resolved: "This conversation is resolved. Write here any time if you need anything else.",
  };
  const THUMB = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M2 10h4v11H2zM8 21V10l4.2-8c1.6.1 2.8 1.4 2.8 3v4h5c1.2 0 2.1 1.1 ' +
    '1.9 2.3l-1.3 7.6c-.2 1.2-1.2 2.1-2.4 2.1z"/></svg>';

  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const humanButton = document.getElementById("human");
  const statusBox = document.getElementById("status");
  const errorBox = document.getElementById("error");
  const contactForm = document.getElementById("contact");
  const contactInput = document.getElementById("contact-email");
  const contactError = document.getElementById("contact-error");
  const csatForm = document.getElementById("csat");
  const csatError = document.getElementById("csat-error");
  const csatThanks = document.getElementById("csat-thanks");

  // {id, token}: the rest (ratings, CSAT, contact email) is the server's, so any browser sees it.
  let conversation = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
  // What the server last said about the conversation beyond its messages.
  let state = { team_back_at: null, contact_email_left: false, csat_requested: false };
  let status = "bot";
  let stream = null;
  let lastEventId = null;
  let reconnectTimer = null;
  const shown = new Map(); // message id → its list item
  const messages = new Map(); // message id → the message

  function save() {
    if (conversation) localStorage.setItem(STORAGE_KEY, JSON.stringify(conversation));
  }

  async function api(method, path, body, extraHeaders = {}) {
    const headers = { Accept: "application/json", ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (conversation) headers.Authorization = `Bearer ${conversation.token}`;
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(problemText(data, response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // A problem+json answer in words: its detail, and for invalid input what each field lacks.
  function problemText(problem, status) {
    const detail = problem.detail || `The server answered ${status}.`;
    const reasons = Array.isArray(problem.errors) ? problem.errors.map((e) => e.msg).filter(Boolean) : [];
    return problem.code === "validation_failed" && reasons.length ? `${detail} ${reasons.join("; ")}.` : detail;
  }

  function conversationPath(suffix = "") {
    return `/api/v1/conversations/${encodeURIComponent(conversation.id)}${suffix}`;
  }

  async function ensureConversation() {
    if (conversation) return conversation;
    const created = await api("POST", "/api/v1/conversations", { channel: "web" });
    conversation = { id: created.id, token: created.token };
    save();
    connect();
    return conversation;
  }

  function forget() {
    localStorage.removeItem(STORAGE_KEY);
    conversation = null;
    lastEventId = null;
    disconnect();
    shown.forEach((node) => node.remove());
    shown.clear();
    messages.clear();
    showStatus("bot");
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Messages come from POST responses and from the event stream, in any order: each is shown
  // once, in the order it was written.
  function before(a, b) {
    const ta = Date.parse(a.created_at);
    const tb = Date.parse(b.created_at);
    if (ta !== tb) return ta < tb;
    return /^\d+$/.test(a.id) && /^\d+$/.test(b.id) ? Number(a.id) < Number(b.id) : false;
  }

  function render(message) {
    if (!message || shown.has(message.id)) return;
    const item = element("li", `message ${message.role}`);
    item.dataset.id = message.id;
    if (message.answered_by) item.dataset.answeredBy = message.answered_by;
    item.appendChild(element("div", "bubble", message.text));
    if (message.sources && message.sources.length) {
      const sources = element("div", "sources");
      sources.appendChild(element("span", "label", "Source: "));
      message.sources.forEach((source, index) => {
        const link = element("a", "source", source.title);
        if (/^(https?:\/\/|\/(?!\/))/i.test(source.url || "")) link.href = source.url; // no javascript: links
        link.target = "_blank";
        link.rel = "noopener";
        if (index) sources.appendChild(document.createTextNode(", "));
        sources.appendChild(link);
      });
      item.appendChild(sources);
    }
    if (message.handoff) item.appendChild(element("div", "handoff-notice", "Handed over to a person"));
    if (message.role === "bot") item.appendChild(feedbackButtons(message.id, message.feedback));

    const later = [...list.querySelectorAll("li[data-id]")]
      .find((node) => before(message, messages.get(node.dataset.id)));
    shown.set(message.id, item);
    messages.set(message.id, message);
    if (later) {
      list.insertBefore(item, later);
    } else {
      list.appendChild(item);
      item.scrollIntoView({ block: "end" });
    }
  }

  function feedbackButtons(messageId, given) {
    const group = element("div", "feedback");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Was this answer helpful?");
    for (const [rating, label] of [["up", "Helpful"], ["down", "Not helpful"]]) {
      const button = element("button", `thumb ${rating}`);
      button.type = "button";
      button.dataset.rating = rating;
      button.setAttribute("aria-label", label);
      button.title = label;
      button.innerHTML = THUMB;
      button.addEventListener("click", () => rate(messageId, rating, group));
      group.appendChild(button);
    }
    group.appendChild(element("span", "feedback-note"));
    showRating(group, given);
    return group;
  }

  function showRating(group, rating) {
    group.querySelectorAll("button.thumb").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.rating === rating));
    });
  }

  async function rate(messageId, rating, group) {
    showError("");
    const buttons = group.querySelectorAll("button");
    buttons.forEach((button) => { button.disabled = true; });
    try {
      const updated = await api("POST", `/api/v1/messages/${encodeURIComponent(messageId)}/feedback`,
        { rating });
      showRating(group, rating);
      group.querySelector(".feedback-note").textContent = "Thanks for your feedback";
      apply(updated);
    } catch (error) {
      showError(error.message);
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  }

  // A conversation as the API returns it (after feedback, CSAT, contact, handoff, restore).
  function apply(updated) {
    updated.messages.forEach(render);
    state = {
      team_back_at: updated.team_back_at,
      contact_email_left: updated.contact_email_left,
      csat_requested: updated.csat_requested,
    };
    showStatus(updated.status);
  }

  function showStatus(next) {
    const changed = next !== status;
    status = next || "bot";
    const text = STATUS_TEXT[status];
    statusBox.hidden = !text;
    statusBox.textContent = text || "";
    statusBox.dataset.status = status;
    const withPerson = status === "waiting" || status === "agent";
    humanButton.disabled = withPerson;
    input.placeholder = withPerson ? "Write to our team…" : "Type your question…";
    updatePanels();
    // A new status may change when the team is back or whether a rating is wanted: ask.
    if (changed && conversation && (status === "waiting" || status === "resolved")) refresh();
  }

  let rated = false;

  function updatePanels() {
    const resolved = status === "resolved";
    reveal(csatForm, resolved && state.csat_requested);
    reveal(csatThanks, resolved && rated && !state.csat_requested);
    reveal(contactForm, wantsEmail());
  }

  async function refresh() {
    try {
      const updated = await api("GET", conversationPath());
      updated.messages.forEach(render);
      state = {
        team_back_at: updated.team_back_at,
        contact_email_left: updated.contact_email_left,
        csat_requested: updated.csat_requested,
      };
      updatePanels();
    } catch (error) {
      // The stream or the next action will tell; nothing to show here.
    }
  }

  // Show or hide a panel; one that appears is scrolled into view (focus stays where it is).
  function reveal(panel, visible) {
    const appearing = visible && panel.hidden;
    panel.hidden = !visible;
    if (appearing) panel.scrollIntoView({ block: "nearest" });
  }

  // Offer the email field while a person is to answer, the team is away, and none was left.
  function wantsEmail() {
    if (!conversation || state.contact_email_left) return false;
    if (status !== "waiting" && status !== "agent") return false;
    return Boolean(state.team_back_at);
  }

  function showError(message, box = errorBox) {
    box.hidden = !message;
    box.textContent = message || "";
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    input.readOnly = busy;
    list.classList.toggle("typing", busy && status === "bot");
  }

  async function send(text) {
    const key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    await ensureConversation();
    const path = conversationPath("/messages");
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
      if (status === "resolved") showStatus("bot"); // writing again reopens it to the bot
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
      apply(await api("POST", conversationPath("/handoff"), {}));
    } catch (error) {
      showError(error.message);
    }
  });

  contactForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("", contactError);
    const email = contactInput.value.trim();
    contactInput.removeAttribute("aria-invalid");
    if (!email) {
      contactInput.setAttribute("aria-invalid", "true");
      showError("Enter your email address.", contactError);
      contactInput.focus();
      return;
    }
    try {
      const updated = await api("POST", conversationPath("/contact"), { email });
      apply(updated);
      input.focus();
    } catch (error) {
      contactInput.setAttribute("aria-invalid", "true");
      showError(error.message, contactError);
      contactInput.focus();
    }
  });

  csatForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("", csatError);
    const choice = csatForm.querySelector("input[name=score]:checked");
    if (!choice) {
      showError("Choose a score from 1 to 5.", csatError);
      csatForm.querySelector("input[name=score]").focus();
      return;
    }
    const comment = document.getElementById("csat-comment").value.trim();
    const body = { score: Number(choice.value), ...(comment ? { comment } : {}) };
    try {
      const updated = await api("POST", conversationPath("/csat"), body);
      rated = true;
      apply(updated);
      csatThanks.focus();
    } catch (error) {
      showError(error.message, csatError);
    }
  });

  // Live: agent replies, system notices and status changes arrive on the event stream.
  function connect() {
    if (!conversation || stream) return;
    clearTimeout(reconnectTimer);
    const query = new URLSearchParams({ token: conversation.token });
    if (lastEventId) query.set("after", lastEventId);
    const source = new EventSource(`${conversationPath("/events")}?${query}`);
    stream = source;
    source.addEventListener("message", (event) => {
      if (/^\d+$/.test(event.lastEventId)) lastEventId = event.lastEventId;
      const data = JSON.parse(event.data);
      render(data.message);
      showStatus(data.status);
    });
    source.addEventListener("error", () => {
      // While CONNECTING the browser retries by itself (with Last-Event-ID). CLOSED means the
      // server refused the stream: find out why before trying again.
      if (source.readyState !== EventSource.CLOSED || stream !== source) return;
      stream = null;
      reconnectTimer = setTimeout(async () => {
        if (await stillOurs()) connect();
      }, RETRY_MS);
    });
  }

  function disconnect() {
    clearTimeout(reconnectTimer);
    if (stream) stream.close();
    stream = null;
  }

  async function stillOurs() {
    if (!conversation) return false;
    try {
      apply(await api("GET", conversationPath()));
      return true;
    } catch (error) {
      if (error.status === 404 || error.status === 403 || error.status === 401) {
        forget();
        return false;
      }
      return true; // the server is having a moment; try again
    }
  }

  async function restore() {
    if (!conversation) return;
    try {
      const stored = await api("GET", conversationPath());
      apply(stored);
      const last = stored.messages[stored.messages.length - 1];
      if (last && /^\d+$/.test(last.id)) lastEventId = last.id;
      connect();
    } catch (error) {
      if (error.status === 404 || error.status === 403 || error.status === 401) {
        forget();
      } else {
        showError(error.message);
        connect(); // the stream catches up once the server is back
      }
    }
  }

  restore();
})();
