// Every agent page: the live connection, presence, the incoming-call card,
// relative times, and the API helper the page scripts share. Plain JavaScript,
// no build step. Values from the server are put in the page with textContent,
// never as HTML, except fragments the server rendered (and escaped) itself.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const FINAL_CALL = ["completed", "no-answer", "busy", "failed", "canceled"];

  // The REST API with the session and its CSRF token; resolves to {ok, status, data}.
  async function api(method, url, body) {
    const options = {method, credentials: "same-origin",
                     headers: {"X-CSRFToken": csrf, "Accept": "application/json"}};
    if (body instanceof FormData) {
      options.body = body;  // multipart: files beside the JSON payload; the browser sets the type
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {ok: response.ok, status: response.status, data};
  }

  async function fragment(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response;
  }

  function errorText(result) {
    const error = result.data && result.data.error;
    if (!error) return _("Something went wrong (%(status)s)", {status: result.status});
    const fields = error.fields ? Object.entries(error.fields)
      .filter(([, v]) => typeof v === "string").map(([k, v]) => k + ": " + v) : [];
    return error.message + (fields.length ? " (" + fields.join("; ") + ")" : "");
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // "5 min", "2 h", "3 d" for <time class="ago">, refreshed every half minute.
  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return _("just now");
    if (seconds < 3600) return _("%(n)s min", {n: Math.floor(seconds / 60)});
    if (seconds < 86400) return _("%(n)s h", {n: Math.floor(seconds / 3600)});
    return _("%(n)s d", {n: Math.floor(seconds / 86400)});
  }
  // SLA due times: "in 25 min" / "12 min over", and the badge's state as time passes.
  const warnMs = Number(document.body.dataset.slaWarn || 30) * 60000;
  function until(iso) {
    const ms = Date.parse(iso) - Date.now();
    const minutes = Math.floor(Math.abs(ms) / 60000);
    const span = minutes < 60 ? _("%(n)s min", {n: minutes}) : minutes < 2880 ? _("%(n)s h", {n: Math.floor(minutes / 60)})
      : _("%(n)s d", {n: Math.floor(minutes / 1440)});
    return ms >= 0 ? _("in %(span)s", {span}) : _("%(span)s over", {span});
  }
  function refreshTimes(root) {
    (root || document).querySelectorAll("time.ago").forEach((t) => {
      t.textContent = ago(t.getAttribute("datetime"));
    });
    (root || document).querySelectorAll(".sla[data-due]").forEach((badge) => {
      const due = badge.dataset.due;
      const left = Date.parse(due) - Date.now();
      badge.classList.remove("running", "near", "breached");
      badge.classList.add(left <= 0 ? "breached" : left <= warnMs ? "near" : "running");
      const time = badge.querySelector("time.until");
      if (time) time.textContent = until(due);
    });
  }

  const socket = io("/agents", {transports: ["websocket"], withCredentials: true});
  window.helpdeskSocket = socket;
  const live = document.getElementById("live-status");
  socket.on("connect", () => { live.textContent = _("live"); live.classList.add("on"); });
  socket.on("disconnect", () => { live.textContent = _("offline"); live.classList.remove("on"); });

  // Presence: mine from the selector; everyone's dots from "presence" events.
  const me = Number(document.body.dataset.agent);
  const presence = document.getElementById("my-presence");
  const dot = document.getElementById("my-presence-dot");
  presence.addEventListener("change", () => {
    socket.emit("presence", {status: presence.value}, (answer) => {
      if (answer && answer.status) dot.className = "dot " + answer.status;
    });
  });
  socket.on("presence", (data) => {
    if (data.agent.id === me) dot.className = "dot " + data.status;
    document.querySelectorAll('[data-presence-of="' + data.agent.id + '"]').forEach((node) => {
      node.className = "dot " + data.status;
      node.title = _(data.status);
    });
  });

  // The incoming-call card, on whatever page the agent is.
  const popup = document.getElementById("call-popup");
  let shownCall = null;
  function showCall(data) {
    const card = data.card || {};
    const customer = card.customer;
    const body = popup.querySelector(".call-body");
    body.replaceChildren();
    const caller = data.caller || {};
    popup.querySelector(".call-line").textContent = data.line ? _("on %(line)s", {line: data.line.name}) : "";
    const name = el("h3", {class: "caller-name"});
    if (customer) {
      const link = el("a", {href: "/customers/" + customer.id}, customer.name || _("Unnamed customer"));
      name.appendChild(link);
    } else {
      name.textContent = _("Unknown caller");
    }
    body.appendChild(name);
    body.appendChild(el("p", {class: "caller-number"}, caller.e164 || caller.number || ""));
    if (customer && customer.organization) {
      body.appendChild(el("p", {class: "org"}, customer.organization.name));
    }
    const tickets = card.open_tickets || [];
    if (tickets.length) {
      body.appendChild(el("h4", {}, _("Open tickets")));
      const list = el("ul");
      tickets.slice(0, 5).forEach((t) => {
        const item = el("li");
        item.appendChild(el("a", {href: "/tickets/" + t.id}, "#" + t.number + " " + (t.subject || "")));
        list.appendChild(item);
      });
      body.appendChild(list);
    }
    const orders = card.recent_orders || [];
    if (orders.length) {
      body.appendChild(el("h4", {}, _("Recent orders")));
      const list = el("ul");
      orders.slice(0, 3).forEach((o) => list.appendChild(el("li", {}, o.number + " · " + o.status)));
      body.appendChild(list);
    }
    shownCall = data.call.id;
    popup.hidden = false;
  }
  function hideCall() { popup.hidden = true; shownCall = null; }
  socket.on("call.incoming", showCall);
  socket.on("call.updated", (data) => {
    const call = data.call;
    if (!call || call.id !== shownCall) return;
    const takenByOther = call.status === "in-progress" && call.agent_id !== me;
    if (FINAL_CALL.includes(call.status) || takenByOther) hideCall();
  });
  popup.querySelector(".close").addEventListener("click", hideCall);

  // Notes addressed to this agent (an escalation, an SLA about to run out), on any page.
  const notes = document.getElementById("notifications");
  socket.on("notification", (data) => {
    const note = el("div", {class: "notification " + data.kind, role: "status"});
    const close = el("button", {type: "button", class: "close", "aria-label": _("Dismiss")}, "×");
    close.addEventListener("click", () => note.remove());
    note.appendChild(close);
    note.appendChild(el("strong", {}, _(data.kind) !== data.kind ? _(data.kind) : data.title));
    const link = el("a", {href: "/tickets/" + data.ticket.id}, data.text);
    note.appendChild(el("p")).appendChild(link);
    notes.prepend(note);
    while (notes.children.length > 5) notes.lastElementChild.remove();
  });

  refreshTimes();
  setInterval(refreshTimes, 30000);
  window.helpdesk = {api, fragment, errorText, el, refreshTimes, socket, me};
})();
