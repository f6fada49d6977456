// The conversation page (and the customer page's panel): live thread, reply with
// collision warning, ticket controls, who else is here, inline customer edits.
(function () {
  "use strict";
  const {api, fragment, errorText, socket, refreshTimes} = window.helpdesk;

  function showError(form, text) {
    const slot = form.querySelector(".form-error");
    slot.textContent = text || "";
    slot.hidden = !text;
  }

  // Size each sandboxed mail frame to its content (same origin, scripts off).
  function fitFrames(root) {
    (root || document).querySelectorAll("iframe.mail-html").forEach((frame) => {
      const fit = () => {
        try {
          frame.style.height = (frame.contentDocument.documentElement.scrollHeight + 8) + "px";
        } catch (e) { /* leave the default height */ }
      };
      frame.addEventListener("load", fit);
      if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit();
    });
  }
  fitFrames();

  // A mail's remote images stay blocked (the frame's own Content-Security-Policy, their
  // addresses in data-remote-src) until the agent loads them for that message.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.load-images");
    const message = button && button.closest("article.message");
    const frame = message && message.querySelector("iframe.mail-html");
    if (!frame) return;
    frame.srcdoc = frame.srcdoc
      .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, "")
      .split(' data-remote-src="').join(' src="');
    button.closest(".remote-images").remove();
  });

  // ----- the customer panel (ticket and customer pages) -----
  // Beside a conversation the page leaves a placeholder (data-src) and the panel comes
  // from its own request; on the customer page it is part of the page.
  const panel = document.getElementById("customer-panel");
  if (panel && panel.dataset.src) loadPanel(panel, panel.dataset.src);
  else if (panel) bindPanel(panel);
  // The customer page's in-place editors (crm.js) put a fresh card in after a save.
  window.helpdeskPanel = {bindPanel};

  // Put the panel the server renders at `url` in the place of `root`, and bind it.
  async function loadPanel(root, url) {
    let html;
    try {
      html = await (await fragment(url)).text();
    } catch (e) {
      const {el} = window.helpdesk;
      const link = root.querySelector("a");
      root.replaceChildren(el("p", {class: "error"}, _("The customer's card could not be loaded (%(error)s).", {error: e.message})));
      if (link) root.append(link);
      root.removeAttribute("aria-busy");
      return;
    }
    const holder = document.createElement("div");
    holder.innerHTML = html;  // rendered and escaped by the server's panel template
    const fresh = holder.querySelector("#customer-panel");
    root.replaceWith(fresh);
    bindPanel(fresh);
  }

  // After an edit, the panel is fetched again and bound anew.
  function refreshPanel(root) {
    if (root.querySelector(".history")) {  // beside a conversation
      loadPanel(root, "/customers/" + root.querySelector("section.card").dataset.customer + "/panel");
    } else {
      location.reload();  // the customer page shows more than the panel
    }
  }

  function bindPanel(root) {
    const card = root.querySelector("section.card");
    if (!card) return;
    const customerId = card.dataset.customer;
    const detailError = root.querySelector(".edit .form-error");
    root.querySelectorAll("form.add-identity").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const kind = form.dataset.kind;
        const have = JSON.parse(card.dataset[kind] || "[]");
        const value = form.elements.value.value.trim();
        const result = await api("PATCH", "/api/v1/customers/" + customerId, {[kind]: have.concat([value])});
        if (result.ok) refreshPanel(root);
        else { detailError.textContent = errorText(result); detailError.hidden = false; }
      });
    });
    const link = root.querySelector("form.link-org");
    if (link) {
      const input = link.elements.organization;
      const list = link.querySelector("datalist");
      let found = [];
      input.addEventListener("input", async () => {
        if (input.value.trim().length < 2) return;
        const result = await api("GET", "/api/v1/organizations?q=" + encodeURIComponent(input.value.trim()));
        if (!result.ok) return;
        found = result.data.items;
        list.replaceChildren(...found.map((o) => window.helpdesk.el("option", {value: o.name})));
      });
      link.addEventListener("submit", async (event) => {
        event.preventDefault();
        const name = input.value.trim().toLowerCase();
        const org = found.find((o) => o.name.toLowerCase() === name) || (found.length === 1 ? found[0] : null);
        if (!org) { detailError.textContent = _("Pick an organization from the list"); detailError.hidden = false; return; }
        const result = await api("PATCH", "/api/v1/customers/" + customerId, {organization: org.id});
        if (result.ok) refreshPanel(root);
        else { detailError.textContent = errorText(result); detailError.hidden = false; }
      });
    }
    const note = root.querySelector("form.add-note");
    if (note) {
      note.addEventListener("submit", async (event) => {
        event.preventDefault();
        const result = await api("POST", "/api/v1/customers/" + customerId + "/notes", {body: note.elements.body.value});
        if (result.ok) refreshPanel(root);
        else { detailError.textContent = errorText(result); detailError.hidden = false; }
      });
    }
    root.addEventListener("click", async (event) => {
      const more = event.target.closest("a.load-more");
      if (!more) return;
      event.preventDefault();
      const html = await (await fragment(more.href)).text();
      const item = more.closest("li");
      item.insertAdjacentHTML("afterend", html);  // rendered and escaped by the server
      item.remove();
    });
  }

  // ----- the conversation -----
  const page = document.querySelector(".conversation[data-ticket]");
  if (!page) return;
  const ticketId = Number(page.dataset.ticket);
  const thread = document.getElementById("thread");
  const reply = document.getElementById("reply");
  const controls = document.getElementById("controls");
  const warning = document.getElementById("new-messages");
  const sendAnyway = reply.querySelector(".send-anyway");
  let catchingUp = null;
  let askedAgain = false;

  function lastId() { return Number(thread.dataset.lastMessage || 0); }

  // Fetch every message after the last one shown. Asked while a fetch is under way (a
  // message arrived after that request went out), it fetches once more when that one is
  // done: the running request may have been answered before the new message was stored.
  async function catchUp() {
    if (catchingUp) { askedAgain = true; return catchingUp; }
    catchingUp = (async () => {
      try {
        do {
          askedAgain = false;
          const html = await (await fragment("/tickets/" + ticketId + "/thread?after=" + lastId())).text();
          const holder = document.createElement("div");
          holder.innerHTML = html;  // rendered and escaped by the server's message template
          for (const article of Array.from(holder.children)) {
            const id = Number(article.dataset.message);
            if (id <= lastId() || document.getElementById("m" + id)) continue;
            thread.appendChild(article);
            thread.dataset.lastMessage = id;
            fitFrames(article);
            refreshTimes(article);
          }
        } while (askedAgain);
      } finally { catchingUp = null; }
    })();
    return catchingUp;
  }

  socket.on("message.created", (data) => {
    if (data.ticket.id === ticketId) catchUp();
  });
  socket.on("message.updated", (data) => {
    const badge = document.querySelector("#m" + data.message.id + " .delivery");
    if (badge) { badge.textContent = _(data.message.status); badge.className = "delivery " + data.message.status; }
  });
  // The ticket's controls: what the server last said, so Save sends only what the agent
  // changed and never undoes a colleague's change that arrived meanwhile.
  function controlValues() {
    const f = controls.elements;
    return {status: f.status.value, priority: f.priority.value,
            team: f.team.value ? Number(f.team.value) : null,
            assignee: f.assignee.value ? Number(f.assignee.value) : null,
            tags: f.tags.value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean).sort()};
  }
  let known = controlValues();
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function showTicket(t) {
    const meta = document.getElementById("ticket-meta");
    const parts = [_(t.status), _(t.priority), t.team ? t.team.name : _("no team"),
                   t.assignee ? t.assignee.name : _("unassigned")];
    meta.textContent = parts.join(" · ") + (t.tags.length ? " · " + t.tags.join(", ") : "");
    const now = {status: t.status, priority: t.priority, team: t.team ? t.team.id : null,
                 assignee: t.assignee ? t.assignee.id : null, tags: t.tags.slice().sort()};
    const shown = controlValues();
    const f = controls.elements;
    // A field the agent has not touched follows the server; an edited one stays as typed.
    if (same(shown.status, known.status)) f.status.value = now.status;
    if (same(shown.priority, known.priority)) f.priority.value = now.priority;
    if (same(shown.team, known.team)) f.team.value = now.team === null ? "" : String(now.team);
    if (same(shown.assignee, known.assignee)) {
      if (now.assignee !== null && !f.assignee.querySelector('option[value="' + now.assignee + '"]')) {
        f.assignee.appendChild(window.helpdesk.el("option", {value: String(now.assignee)}, t.assignee.name));
      }
      f.assignee.value = now.assignee === null ? "" : String(now.assignee);
    }
    if (same(shown.tags, known.tags)) f.tags.value = now.tags.join(", ");
    known = now;
    showSla(t.sla);
    // The ticket's custom fields (edited in place by crm.js): those not being edited follow.
    document.querySelectorAll("#ticket-fields .field:not(.editing)").forEach((field) => {
      if (window.helpdeskCrm) field.querySelector(".value").textContent = window.helpdeskCrm.display(field, t);
    });
  }
  // The SLA line: each target's due time, and the nearest one's badge.
  function showSla(sla) {
    const line = document.getElementById("sla");
    line.hidden = !sla;
    if (!sla) return;
    line.querySelectorAll(".sla-target").forEach((span) => {
      const due = sla[span.dataset.target];
      span.hidden = !due;
      const time = span.querySelector("time");
      time.setAttribute("datetime", due || "");
      time.textContent = due ? due.slice(0, 16).replace("T", " ") : "";
    });
    const badge = line.querySelector(".sla-now");
    badge.replaceChildren();
    if (sla.due && ["running", "near", "breached"].includes(sla.state)) {
      const span = window.helpdesk.el("span", {class: "sla " + sla.state, "data-due": sla.due});
      span.appendChild(window.helpdesk.el("time", {class: "until", datetime: sla.due}));
      badge.appendChild(span);
      window.helpdesk.refreshTimes(line);
    } else if (sla.state === "paused") {
      badge.appendChild(window.helpdesk.el("span", {class: "sla paused"}, _("paused")));
    }
  }
  socket.on("ticket.updated", (data) => {
    if (data.ticket.id === ticketId) showTicket(data.ticket);
  });

  // The panel follows what happens with this customer on any ticket: its open tickets,
  // their statuses, the history. Fetched again at most once a second, and not while the
  // agent has typed something into one of its forms (that would be lost).
  const customerId = Number(page.dataset.customer);
  let panelDue = null;
  function panelLater() {
    clearTimeout(panelDue);
    panelDue = setTimeout(() => {
      const current = document.getElementById("customer-panel");
      if (!current || !current.querySelector(".history")) return;  // still loading: it is fresh
      const typing = [...current.querySelectorAll("input, textarea")].some((f) => f.value.trim());
      if (typing) { panelLater(); return; }
      refreshPanel(current);
    }, 1000);
  }
  ["ticket.created", "ticket.updated", "message.created"].forEach((name) => {
    socket.on(name, (data) => {
      if (data.ticket && data.ticket.customer && data.ticket.customer.id === customerId) panelLater();
    });
  });

  // Who else has this ticket open, and who is typing.
  const viewers = document.getElementById("viewers");
  let typingSent = 0;
  function announce(typing) { socket.emit("viewing", {ticket: ticketId, typing: !!typing}); }
  socket.on("connect", () => { announce(false); catchUp(); });
  if (socket.connected) announce(false);
  socket.on("viewers", (data) => {
    if (data.ticket !== ticketId) return;
    const others = data.agents.filter((a) => a.id !== window.helpdesk.me);
    viewers.hidden = others.length === 0;
    viewers.textContent = others.map((a) => (a.typing ? _("%(name)s is typing…", {name: a.name}) : _("%(name)s is viewing", {name: a.name}))).join(" · ");
  });
  const customerTyping = document.createElement("p");
  customerTyping.className = "viewers customer-typing";
  customerTyping.hidden = true;
  customerTyping.textContent = _("The customer is typing…");
  viewers.after(customerTyping);
  let customerTimer = null;
  socket.on("typing", (data) => {  // live channels: the customer typing in the chat widget
    if (data.ticket !== ticketId) return;
    customerTyping.hidden = !data.typing;
    clearTimeout(customerTimer);
    if (data.typing) customerTimer = setTimeout(() => { customerTyping.hidden = true; }, 6000);
  });
  reply.elements.body.addEventListener("input", () => {
    const now = Date.now();
    if (now - typingSent > 3000) { typingSent = now; announce(true); }
  });
  setInterval(() => { if (typingSent && Date.now() - typingSent > 5000) { typingSent = 0; announce(false); } }, 2000);
  window.addEventListener("pagehide", () => socket.emit("leave", {ticket: ticketId}));

  // The reply's Cc and Bcc (email) and its files: multipart with the JSON as "payload".
  function withFiles(form, body) {
    ["cc", "bcc"].forEach((name) => {
      const field = form.elements[name];
      const list = field ? field.value.split(/[,;\s]+/).filter(Boolean) : [];
      if (list.length && !body.internal) body[name] = list;
    });
    const picked = form.elements.files;
    if (!picked || !picked.files.length) return body;
    const data = new FormData();
    data.append("payload", JSON.stringify(body));
    Array.from(picked.files).forEach((file) => data.append("files", file));
    return data;
  }

  async function send(force) {
    const internal = reply.elements.internal.checked;
    const body = {body: reply.elements.body.value, internal: internal};
    if (!internal && reply.elements.channel) body.channel = reply.elements.channel.value;
    if (!force) body.seen = lastId();
    const payload = withFiles(reply, body);  // files, Cc and Bcc: _reply_files.html
    const button = reply.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const result = await api("POST", "/api/v1/tickets/" + ticketId + "/messages", payload);
      if (result.ok) {
        reply.elements.body.value = "";
        reply.querySelectorAll(".reply-files input").forEach((input) => { input.value = ""; });
        warning.hidden = true;
        sendAnyway.hidden = true;
        showError(reply, "");
        typingSent = 0;
        announce(false);
        await catchUp();
      } else if (result.status === 409 && result.data && result.data.error.code === "new_messages") {
        await catchUp();  // show what arrived; the draft stays in the box
        warning.textContent = _("The customer wrote again while you were typing. Read it, then send (your draft is kept).");
        warning.hidden = false;
        sendAnyway.hidden = false;
      } else {
        showError(reply, errorText(result));
      }
    } finally { button.disabled = false; }
  }
  reply.addEventListener("submit", (event) => { event.preventDefault(); send(false); });

  // Macros: the agent's personal and team macros, applied through the API. The server
  // renders the text (it fills the reply box, to be read and sent) and makes the macro's
  // ticket changes, which also arrive as ticket.updated.
  const macroPicker = reply.querySelector(".macro-picker");
  const macroSelect = reply.elements.macro;
  async function loadMacros() {
    const result = await api("GET", "/api/v1/macros?per_page=200");
    if (!result.ok) return;
    const options = result.data.items.map((m) => window.helpdesk.el(
      "option", {value: String(m.id)}, m.name + (m.team ? " (" + m.team.name + ")" : "")));
    macroSelect.replaceChildren(macroSelect.options[0], ...options);
    macroPicker.hidden = options.length === 0;
  }
  if (macroSelect) {
    loadMacros();
    macroSelect.addEventListener("change", async () => {
      const macroId = macroSelect.value;
      if (!macroId) return;
      macroSelect.disabled = true;
      try {
        const result = await api("POST", "/api/v1/tickets/" + ticketId + "/macros/" + macroId + "/apply", {});
        if (result.ok) {
          const box = reply.elements.body;
          box.value = box.value.trim() ? box.value.replace(/\s+$/, "") + "\n\n" + result.data.text : result.data.text;
          box.focus();
          showError(reply, "");
          showTicket(result.data.ticket);
        } else {
          showError(reply, errorText(result));
        }
      } finally {
        macroSelect.value = "";
        macroSelect.disabled = false;
      }
    });
  }
  sendAnyway.addEventListener("click", () => send(true));

  controls.addEventListener("submit", async (event) => {
    event.preventDefault();
    const shown = controlValues();
    const change = {};
    for (const key of Object.keys(shown)) {
      if (!same(shown[key], known[key])) change[key] = shown[key];
    }
    if (!Object.keys(change).length) { showError(controls, ""); return; }
    const result = await api("PATCH", "/api/v1/tickets/" + ticketId, change);
    showError(controls, result.ok ? "" : errorText(result));
    if (result.ok) { known = controlValues(); showTicket(result.data); }
  });
  controls.querySelector(".escalate").addEventListener("click", async () => {
    const reason = window.prompt(_("Why does this ticket need escalating?"));
    if (!reason || !reason.trim()) return;
    const result = await api("POST", "/api/v1/tickets/" + ticketId + "/escalate", {reason: reason.trim()});
    showError(controls, result.ok ? "" : errorText(result));
    if (result.ok) showTicket(result.data);
  });
})();
