// Keyboard shortcuts in the inbox and the conversation (templates/_shortcuts.html):
// j/k next/previous ticket, o/Enter open (inbox), r reply, n internal note, a assign to
// me, s solve, g then i the inbox, ? the list. Never while typing in a field.
(function () {
  "use strict";
  const dialog = document.getElementById("shortcuts");
  if (!dialog || !window.helpdesk) return;
  const {api, me} = window.helpdesk;
  const LIST_KEY = "helpdesk.inbox.tickets";
  const inbox = document.querySelector("table.inbox tbody");
  const conversation = document.querySelector(".conversation[data-ticket]");
  let pendingG = 0;

  function typing(target) {
    return !!(target && target.closest && target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])"));
  }

  // --- the inbox: a selected row --------------------------------------------------------
  function rows() { return inbox ? Array.from(inbox.querySelectorAll("tr[data-ticket]")) : []; }
  function remember() {
    const ids = rows().map((row) => Number(row.dataset.ticket));
    if (ids.length) sessionStorage.setItem(LIST_KEY, JSON.stringify(ids));
  }
  function selected() { return inbox && inbox.querySelector("tr.selected"); }
  function select(row) {
    rows().forEach((r) => { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({block: "nearest"});
  }
  function moveInInbox(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(selected());
    const next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
    remember();
  }
  function openSelected(hash) {
    const row = selected();
    const link = row && row.querySelector("td.subject a");
    if (link) location.href = link.getAttribute("href") + (hash || "");
  }
  async function changeSelected(change) {
    const row = selected();
    if (!row) return;
    const result = await api("PATCH", "/api/v1/tickets/" + row.dataset.ticket, change);
    row.classList.toggle("shortcut-failed", !result.ok);
    if (!result.ok) row.title = window.helpdesk.errorText(result);
  }

  // --- the conversation -----------------------------------------------------------------
  function neighbour(step) {
    let ids = [];
    try { ids = JSON.parse(sessionStorage.getItem(LIST_KEY) || "[]"); } catch (e) { ids = []; }
    const at = ids.indexOf(Number(conversation.dataset.ticket));
    const next = ids[at + step];
    if (at >= 0 && next) location.href = "/tickets/" + next;
  }
  function compose(internal) {
    const form = document.getElementById("reply");
    if (!form) return;
    form.elements.internal.checked = internal;
    form.elements.internal.dispatchEvent(new Event("change", {bubbles: true}));
    form.elements.body.focus();
  }
  function control(name, value, label) {
    const form = document.getElementById("controls");
    if (!form) return;
    const field = form.elements[name];
    if (!field.querySelector('option[value="' + value + '"]')) {
      field.appendChild(window.helpdesk.el("option", {value}, label || value));
    }
    field.value = value;
    form.requestSubmit();
  }

  const actions = {
    j: () => (conversation ? neighbour(1) : moveInInbox(1)),
    k: () => (conversation ? neighbour(-1) : moveInInbox(-1)),
    o: () => openSelected(),
    Enter: () => openSelected(),
    r: () => (conversation ? compose(false) : openSelected("#reply")),
    n: () => (conversation ? compose(true) : openSelected("#note")),
    a: () => (conversation ? control("assignee", String(me), document.body.dataset.agentName)
      : changeSelected({assignee: me})),
    s: () => (conversation ? control("status", "solved") : changeSelected({status: "solved"})),
    "?": () => { if (!dialog.open) dialog.showModal(); },
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typing(event.target) || (dialog.open && event.key !== "Escape")) return;
    if (event.key === "g") { pendingG = Date.now(); return; }
    if (event.key === "i" && Date.now() - pendingG < 1500) {
      pendingG = 0;
      location.href = dialog.dataset.inbox;
      return;
    }
    pendingG = 0;
    const action = actions[event.key];
    if (!action || (event.key === "Enter" && (!selected() || event.target.closest("a, button")))) return;
    event.preventDefault();
    action();
  });

  if (inbox) {
    remember();
    new MutationObserver(remember).observe(inbox, {childList: true});
  }
  if (conversation && (location.hash === "#reply" || location.hash === "#note")) {
    compose(location.hash === "#note");
  }
})();
