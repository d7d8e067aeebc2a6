// The agent console: staff sign in, watch the queue live, take a conversation, reply, resolve
// or release it, and correct the bot's answers. Talks to the staff API v1 (docs/agents.md).
(() => {
  "use strict";
  const SESSION_KEY = "chatdesk.staff";
  const POLL_MS = 5000;
  const DEBOUNCE_MS = 200;
  const REASONS = {
    customer_request: "Asked for a person",
    fallback_streak: "The bot didn't know, twice",
    negative_feedback: "Two thumbs down in a row",
  };
  const ANSWERED_BY = {
    retrieval: "From the knowledge base",
    curated: "Curated answer",
    intent: "Intent",
    llm: "Written by the LLM",
    fallback: "Didn't know",
    agent: "Agent",
  };
  const STATUS = { bot: "With the bot", waiting: "Waiting", agent: "With an agent", resolved: "Resolved" };
  const WHO = { customer: "Customer", bot: "Bot", system: "System", agent: "Agent" };

  const $ = (id) => document.getElementById(id);
  const signInSection = $("sign-in");
  const signInForm = $("sign-in-form");
  const signInMessage = $("sign-in-message");
  const signInError = $("sign-in-error");
  const workspace = $("workspace");
  const whoami = $("whoami");
  const signOutButton = $("sign-out");
  const queueList = $("queue");
  const queueEmpty = $("queue-empty");
  const queueError = $("queue-error");
  const assignedFilter = $("assigned");
  const live = $("live");
  const placeholder = $("conversation-placeholder");
  const body = $("conversation-body");
  const title = $("conversation-title");
  const statusBadge = $("conversation-status");
  const facts = $("conversation-facts");
  const conversationError = $("conversation-error");
  const conversationNotice = $("conversation-notice");
  const transcript = $("transcript");
  const replyForm = $("reply-form");
  const replyText = $("reply-text");
  const replySend = $("reply-send");
  const replyHint = $("reply-hint");
  const actions = { claim: $("claim"), resolve: $("resolve"), release: $("release") };

  let session = readSession();
  let openId = null;
  let current = null; // the open conversation, as GET /inbox/{id} returned it
  let events = null;
  let pollTimer = null;
  let tickTimer = null;
  let reconnectTimer = null;
  const debounced = {};
  const sequence = { queue: 0, conversation: 0 };

  // ---- helpers ---------------------------------------------------------------------------

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function show(box, message) {
    box.hidden = !message;
    box.textContent = message || "";
  }

  function safeUrl(url) {
    return /^(https?:\/\/|\/(?!\/))/i.test(url || "") ? url : null;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  }

  function clock(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function debounce(name, fn) {
    clearTimeout(debounced[name]);
    debounced[name] = setTimeout(fn, DEBOUNCE_MS);
  }

  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, payload) {
    const headers = { Accept: "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    if (session) headers.Authorization = `Bearer ${session.token}`;
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: payload === undefined ? undefined : JSON.stringify(payload),
      });
    } catch {
      throw new ApiError("The server cannot be reached; check your connection.", 0, "network");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      let detail = data.detail || `The server answered ${response.status}.`;
      const reasons = Array.isArray(data.errors) ? data.errors.map((e) => e.msg).filter(Boolean) : [];
      if (data.code === "validation_failed" && reasons.length) detail += ` ${reasons.join("; ")}.`;
      if (response.status === 401 && session) endSession(`Please sign in again. ${detail}`);
      throw new ApiError(detail, response.status, data.code);
    }
    return data;
  }

  // ---- signing in and out ----------------------------------------------------------------

  function readSession() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch {
      return null;
    }
  }

  signInForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    show(signInError, "");
    const button = $("sign-in-button");
    button.disabled = true;
    const email = $("email").value.trim();
    try {
      const token = await api("POST", "/api/v1/auth/token", { email, password: $("password").value });
      session = {
        token: token.access_token, role: token.role, email: token.user.email, name: token.user.name,
        userId: token.user.id, expiresAt: Date.now() + token.expires_in * 1000,
      };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      $("password").value = "";
      startWorkspace();
    } catch (error) {
      show(signInError, error.message);
      $("password").select();
    } finally {
      button.disabled = false;
    }
  });

  signOutButton.addEventListener("click", () => endSession("You have signed out."));

  function endSession(message, keepLink = false) {
    stopLive();
    session = null;
    sessionStorage.removeItem(SESSION_KEY);
    openId = null;
    current = null;
    transcript.replaceChildren();
    queueList.replaceChildren();
    workspace.hidden = true;
    whoami.hidden = true;
    signOutButton.hidden = true;
    signInSection.hidden = false;
    show(signInMessage, message);
    if (!keepLink) history.replaceState(null, "", location.pathname);
    $("email").focus();
  }

  function startWorkspace() {
    signInSection.hidden = true;
    show(signInMessage, "");
    workspace.hidden = false;
    const viewOnly = session.role === "analyst" ? " · view only" : "";
    whoami.textContent = `${session.email} (${session.role}${viewOnly})`;
    whoami.hidden = false;
    signOutButton.hidden = false;
    refreshQueue();
    connectEvents();
    tickTimer = setInterval(tick, 1000);
    const wanted = new URLSearchParams(location.hash.slice(1)).get("conversation");
    if (wanted) openConversation(wanted, false);
    else $("queue-title").focus();
  }

  // ---- live updates: the inbox event stream, or polling while it is down -----------------

  function connectEvents() {
    if (!session || events) return;
    clearTimeout(reconnectTimer);
    const source = new EventSource(`/api/v1/inbox/events?access_token=${encodeURIComponent(session.token)}`);
    events = source;
    source.addEventListener("ready", () => {
      stopPolling();
      show(live, "Live");
      live.dataset.mode = "live";
      refreshSoon(null);
    });
    source.addEventListener("inbox", (event) => {
      let data = {};
      try {
        data = JSON.parse(event.data);
      } catch { /* a signal without details: refresh everything */ }
      refreshSoon(data.conversation_id);
    });
    source.addEventListener("error", () => {
      if (events !== source) return;
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        // Refused (an expired token, a server error): polling tells which; retry later.
        events = null;
        reconnectTimer = setTimeout(connectEvents, POLL_MS);
      }
    });
  }

  function refreshSoon(conversationId) {
    debounce("queue", refreshQueue);
    if (openId && (!conversationId || conversationId === openId)) debounce("conversation", refreshConversation);
  }

  function startPolling() {
    show(live, "Reconnecting… updating every 5 s");
    live.dataset.mode = "polling";
    if (pollTimer) return;
    pollTimer = setInterval(() => refreshSoon(null), POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function stopLive() {
    stopPolling();
    clearInterval(tickTimer);
    clearTimeout(reconnectTimer);
    Object.values(debounced).forEach(clearTimeout);
    if (events) events.close();
    events = null;
  }

  function tick() {
    const now = Date.now();
    queueList.querySelectorAll("[data-since]").forEach((node) => {
      node.textContent = `waiting ${duration((now - Number(node.dataset.since)) / 1000)}`;
    });
  }

  // ---- the queue -------------------------------------------------------------------------

  assignedFilter.addEventListener("change", () => refreshQueue());

  async function refreshQueue() {
    if (!session) return;
    const mine = ++sequence.queue;
    const query = new URLSearchParams({ status: "waiting,agent", assigned: assignedFilter.value });
    try {
      const inbox = await api("GET", `/api/v1/inbox?${query}`);
      if (mine !== sequence.queue || !session) return;
      show(queueError, "");
      renderQueue(inbox.conversations);
    } catch (error) {
      if (mine === sequence.queue && session) show(queueError, error.message);
    }
  }

  function renderQueue(items) {
    const focused = document.activeElement && document.activeElement.closest("#queue [data-id]");
    const focusedId = focused ? focused.dataset.id : null;
    const fetchedAt = Date.now();
    queueList.replaceChildren(...items.map((item) => queueItem(item, fetchedAt)));
    queueEmpty.hidden = items.length > 0;
    if (focusedId) {
      const again = queueList.querySelector(`[data-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus();
    }
  }

  function queueItem(item, fetchedAt) {
    const li = element("li");
    const button = element("button", `queue-item status-${item.status}`);
    button.type = "button";
    button.dataset.id = item.id;
    button.dataset.status = item.status;
    if (item.id === openId) button.setAttribute("aria-current", "true");
    const top = element("span", "qi-top");
    top.appendChild(element("span", `badge status-${item.status}`, STATUS[item.status] || item.status));
    if (item.waiting_seconds !== null && item.waiting_seconds !== undefined) {
      const waited = element("span", "qi-time", `waiting ${duration(item.waiting_seconds)}`);
      waited.dataset.since = String(fetchedAt - item.waiting_seconds * 1000);
      top.appendChild(waited);
    } else if (item.assigned_to) {
      top.appendChild(element("span", "qi-holder", `with ${item.assigned_to.name || item.assigned_to.email}`));
    }
    button.appendChild(top);
    button.appendChild(element("span", "qi-reason", REASONS[item.handoff_reason] || item.handoff_reason || "—"));
    if (item.last_message) button.appendChild(element("span", "qi-last", item.last_message));
    const extra = [`${item.message_count} messages`];
    if (item.contact_email) extra.push(`email: ${item.contact_email}`);
    button.appendChild(element("span", "qi-extra", extra.join(" · ")));
    button.addEventListener("click", () => openConversation(item.id, true));
    li.appendChild(button);
    return li;
  }

  // ---- one conversation ------------------------------------------------------------------

  async function openConversation(id, focusTitle) {
    if (id !== openId) {
      openId = id;
      current = null;
      transcript.replaceChildren();
      show(conversationError, "");
      show(conversationNotice, "");
      replyText.value = "";
    }
    history.replaceState(null, "", `#conversation=${encodeURIComponent(id)}`);
    queueList.querySelectorAll("[data-id]").forEach((node) => {
      if (node.dataset.id === id) node.setAttribute("aria-current", "true");
      else node.removeAttribute("aria-current");
    });
    await refreshConversation();
    if (focusTitle && current && current.id === id) title.focus();
  }

  async function refreshConversation() {
    if (!session || !openId) return;
    const mine = ++sequence.conversation;
    const id = openId;
    try {
      const conversation = await api("GET", `/api/v1/inbox/${encodeURIComponent(id)}`);
      if (mine !== sequence.conversation || id !== openId) return;
      renderConversation(conversation);
    } catch (error) {
      if (mine !== sequence.conversation || !session) return;
      placeholder.hidden = Boolean(current);
      body.hidden = !current;
      if (!current) show(placeholder, error.message);
      else show(conversationError, error.message);
    }
  }

  function renderConversation(conversation) {
    current = conversation;
    placeholder.hidden = true;
    body.hidden = false;
    body.dataset.id = conversation.id;
    body.dataset.status = conversation.status;
    title.textContent = `Conversation ${conversation.id.slice(0, 8)}`;
    statusBadge.className = `badge status-${conversation.status}`;
    statusBadge.textContent = STATUS[conversation.status] || conversation.status;
    renderFacts(conversation);
    renderTranscript(conversation.messages);
    updateActions(conversation);
  }

  function renderFacts(conversation) {
    const rows = [];
    const holder = conversation.assigned_to;
    rows.push(["Reason", REASONS[conversation.handoff_reason] || conversation.handoff_reason || "—"]);
    if (conversation.handoff_at) rows.push(["Handed off", clock(conversation.handoff_at)]);
    rows.push(["Agent", holder ? `${holder.name || holder.email}${isMine(conversation) ? " (you)" : ""}` : "nobody yet"]);
    rows.push(["Channel", conversation.channel]);
    if (conversation.contact_email) rows.push(["Email", conversation.contact_email, `mailto:${conversation.contact_email}`]);
    if (conversation.csat_score) {
      const comment = conversation.csat_comment ? ` “${conversation.csat_comment}”` : "";
      rows.push(["CSAT", `${conversation.csat_score}/5${comment}`]);
    }
    facts.replaceChildren(...rows.flatMap(([name, value, href]) => {
      const dt = element("dt", null, name);
      const dd = element("dd");
      dd.dataset.fact = name.toLowerCase();
      if (href) {
        const link = element("a", null, value);
        link.href = href;
        dd.appendChild(link);
      } else {
        dd.textContent = value;
      }
      return [dt, dd];
    }));
  }

  function renderTranscript(messages) {
    const first = transcript.children.length === 0;
    const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
    let added = false;
    messages.forEach((message, index) => {
      let node = transcript.querySelector(`li[data-id="${CSS.escape(message.id)}"]`);
      if (!node) {
        node = messageNode(message);
        added = true;
      }
      if (transcript.children[index] !== node) transcript.insertBefore(node, transcript.children[index] || null);
      updateMeta(node, message);
    });
    if (added && (first || nearBottom)) {
      transcript.scrollTop = transcript.scrollHeight;
    }
  }

  function messageNode(message) {
    const li = element("li", `cmsg ${message.role}`);
    li.dataset.id = message.id;
    if (message.answered_by) li.dataset.answeredBy = message.answered_by;
    const head = element("div", "cmsg-head");
    const who = message.role === "agent" && message.author ? message.author : WHO[message.role] || message.role;
    head.appendChild(element("span", "who", who));
    if (message.role === "bot" && message.answered_by) {
      let how = ANSWERED_BY[message.answered_by] || message.answered_by;
      if (message.intent) {
        const confidence = message.intent.confidence === null ? "" : ` ${message.intent.confidence.toFixed(2)}`;
        how += ` · intent ${message.intent.name}${confidence}`;
      }
      if (message.cached) how += " · cached";
      head.appendChild(element("span", "how", how));
    }
    if (message.handoff) head.appendChild(element("span", "how handoff", "handed off"));
    const time = element("time", null, clock(message.created_at));
    time.dateTime = message.created_at;
    head.appendChild(time);
    li.appendChild(head);
    li.appendChild(element("div", "bubble", message.text));
    if (message.sources && message.sources.length) li.appendChild(sourceList(message.sources));
    li.appendChild(element("div", "cmsg-meta"));
    if (message.role === "bot") li.appendChild(correction(message));
    return li;
  }

  function sourceList(sources) {
    const list = element("ul", "cmsg-sources");
    list.setAttribute("aria-label", "Sources");
    for (const source of sources) {
      const item = element("li");
      const href = safeUrl(source.url);
      const link = element(href ? "a" : "span", "source", source.title);
      if (href) {
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener";
      }
      item.appendChild(link);
      if (typeof source.score === "number") item.appendChild(element("span", "score", ` score ${source.score.toFixed(2)}`));
      if (source.snippet) item.appendChild(element("p", "snippet", source.snippet));
      list.appendChild(item);
    }
    return list;
  }

  function updateMeta(node, message) {
    const meta = node.querySelector(".cmsg-meta");
    const parts = [];
    if (message.feedback) {
      const label = message.feedback === "up" ? "Customer: helpful" : "Customer: not helpful";
      const rating = element("span", `rating ${message.feedback}`, label);
      parts.push(rating);
      if (message.feedback_comment) parts.push(element("span", "comment", `“${message.feedback_comment}”`));
    }
    if (message.corrected_by_answer) {
      parts.push(element("span", "corrected", `Corrected: curated answer #${message.corrected_by_answer}`));
    }
    node.dataset.feedback = message.feedback || "";
    node.dataset.corrected = message.corrected_by_answer ? String(message.corrected_by_answer) : "";
    meta.replaceChildren(...parts);
    meta.hidden = parts.length === 0;
  }

  // "Correct this answer": the right answer (and other phrasings) become a curated answer.
  function correction(message) {
    const box = element("div", "correction");
    const toggle = element("button", "link correct-toggle", "Correct this answer");
    toggle.type = "button";
    const formId = `correct-${message.id}`;
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-controls", formId);
    const form = element("form", "correction-form stack");
    form.id = formId;
    form.hidden = true;
    const question = current && current.messages.find((m) => m.id === message.reply_to);
    if (question) form.appendChild(element("p", "small muted", `Customer asked: “${question.text}”`));
    const answerLabel = element("label", null, "The right answer");
    answerLabel.htmlFor = `${formId}-answer`;
    const answer = element("textarea");
    answer.id = `${formId}-answer`;
    answer.rows = 3;
    answer.maxLength = 4000;
    answer.required = true;
    const variantsLabel = element("label", null, "Other ways customers ask this (optional, one per line)");
    variantsLabel.htmlFor = `${formId}-variants`;
    const variants = element("textarea");
    variants.id = `${formId}-variants`;
    variants.rows = 2;
    const buttons = element("div", "row");
    const save = element("button", null, "Save correction");
    save.type = "submit";
    const cancel = element("button", "secondary", "Cancel");
    cancel.type = "button";
    buttons.append(save, cancel);
    const error = element("p", "error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.append(answerLabel, answer, variantsLabel, variants, buttons, error);
    const saved = element("p", "saved");
    saved.setAttribute("role", "status");
    saved.hidden = true;

    const setOpen = (open) => {
      form.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) {
        show(saved, "");
        answer.focus();
      }
    };
    toggle.addEventListener("click", () => setOpen(form.hidden));
    cancel.addEventListener("click", () => {
      setOpen(false);
      toggle.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      show(error, "");
      save.disabled = true;
      const lines = variants.value.split("\n").map((line) => line.trim()).filter(Boolean);
      try {
        const curated = await api("POST", `/api/v1/messages/${encodeURIComponent(message.id)}/correction`,
          { answer: answer.value.trim(), variants: lines });
        answer.value = "";
        variants.value = "";
        setOpen(false);
        show(saved, "Saved: the bot will give this answer from now on.");
        const node = box.closest("li.cmsg");
        const latest = current && current.messages.find((m) => m.id === message.id);
        updateMeta(node, { ...(latest || message), corrected_by_answer: curated.id });
        toggle.focus();
        debounce("conversation", refreshConversation);
      } catch (failure) {
        show(error, failure.message);
      } finally {
        save.disabled = false;
      }
    });
    box.append(toggle, form, saved);
    return box;
  }

  // ---- what the agent can do -------------------------------------------------------------

  function isMine(conversation) {
    const holder = conversation.assigned_to;
    if (!holder || !session) return false;
    if (session.userId) return String(holder.id) === String(session.userId);
    return holder.email.toLowerCase() === session.email.toLowerCase();
  }

  function updateActions(conversation) {
    const status = conversation.status;
    const holder = status === "agent" && (isMine(conversation) || session.role === "admin");
    const someoneElse = status === "agent" && !isMine(conversation) && conversation.assigned_to;
    actions.claim.disabled = !(status === "waiting" || status === "bot");
    actions.resolve.disabled = !(status === "waiting" || holder);
    actions.release.disabled = !(status === "waiting" || holder);
    replyText.disabled = !holder;
    replySend.disabled = !holder;
    let hint = "Ctrl+Enter sends.";
    if (status === "resolved") hint = "This conversation is resolved: view only.";
    else if (status === "waiting") hint = "Claim the conversation to reply.";
    else if (status === "bot") hint = "The bot has this conversation; claim it to reply.";
    else if (someoneElse && !holder) hint = `${conversation.assigned_to.name || conversation.assigned_to.email} has this conversation.`;
    replyHint.textContent = hint;
  }

  const DONE = {
    claim: "You have this conversation: the customer sees that you joined.",
    resolve: "Resolved: the customer is asked to rate the conversation.",
    release: "Given back to the bot.",
  };

  for (const [name, button] of Object.entries(actions)) {
    button.addEventListener("click", async () => {
      if (!openId) return;
      show(conversationError, "");
      show(conversationNotice, "");
      button.disabled = true;
      try {
        const updated = await api("POST", `/api/v1/inbox/${encodeURIComponent(openId)}/${name}`);
        renderConversation(updated);
        show(conversationNotice, DONE[name]);
        debounce("queue", refreshQueue);
        if (name === "claim" && !replyText.disabled) replyText.focus();
        else title.focus();
      } catch (error) {
        show(conversationError, error.message);
        if (current) updateActions(current);
        if (error.status === 409) debounce("conversation", refreshConversation);
      }
    });
  }

  replyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = replyText.value.trim();
    if (!text || !openId) return;
    show(conversationError, "");
    replySend.disabled = true;
    try {
      const message = await api("POST", `/api/v1/inbox/${encodeURIComponent(openId)}/messages`, { text });
      replyText.value = "";
      if (current && !current.messages.some((m) => m.id === message.id)) {
        current.messages.push(message);
        renderTranscript(current.messages);
      }
    } catch (error) {
      show(conversationError, error.message);
    } finally {
      if (current) updateActions(current);
      replyText.focus();
    }
  });

  replyText.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      replyForm.requestSubmit();
    }
  });

  // ---- start -----------------------------------------------------------------------------

  if (session && session.expiresAt > Date.now()) {
    startWorkspace();
  } else {
    endSession(session ? "Your session has expired: please sign in again." : "", true);
  }
})();
