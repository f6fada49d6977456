// The lead's team board. Live: on ticket.created / ticket.updated the board's body is
// fetched again from /board/rows (rendered by the same template as the page, so nothing
// is decided twice), a burst of events making one request; presence changes the agent's
// label at once (app.js moves the dots). Reassigning posts the selected tickets (or one
// row's) to POST /api/v1/tickets/bulk, all of them or none.
(function () {
  "use strict";
  const {socket, api, errorText, fragment, refreshTimes} = window.helpdesk;
  const holder = document.getElementById("board-body");
  if (!holder) return;  // no team to show
  const bar = document.getElementById("board-bulk");
  const target = bar.elements.target;
  const problem = bar.querySelector(".form-error");
  const counter = document.getElementById("board-selected");
  const selected = new Set();  // ticket ids, kept across refreshes
  let timer = null;
  let busy = false;

  function rowsUrl() {
    const params = new URLSearchParams({team: holder.dataset.team, page: holder.dataset.page,
                                        sla_page: holder.dataset.slaPage});
    return "/board/rows?" + params;
  }

  function schedule(delay) {
    if (!timer) timer = setTimeout(refresh, delay === undefined ? 200 : delay);
  }

  function choosing() {  // a row's reassign list is open: do not pull it away
    const active = document.activeElement;
    return active && active.tagName === "SELECT" && holder.contains(active);
  }

  async function refresh() {
    timer = null;
    if (choosing()) { schedule(1000); return; }
    let html;
    try {
      const response = await fragment(rowsUrl());
      if (response.redirected) return;  // logged out meanwhile: leave the board as it is
      html = await response.text();
    } catch (e) { return; }
    if (choosing()) { schedule(1000); return; }
    holder.innerHTML = html;  // rendered and escaped by the server's template
    bind();
  }

  // Relative SLA due times: "in 12 min", "5 min overdue".
  function span(ms) {
    const minutes = Math.floor(Math.abs(ms) / 60000);
    if (minutes < 1) return "now";
    if (minutes < 60) return _("%(n)s min", {n: minutes});
    if (minutes < 1440) return Math.floor(minutes / 60) + " h";
    return Math.floor(minutes / 1440) + " d";
  }
  function refreshDue() {
    holder.querySelectorAll("time.due").forEach((node) => {
      const left = Date.parse(node.getAttribute("datetime")) - Date.now();
      const text = span(left);
      node.textContent = text === "now" ? _("due now") : left > 0 ? _("in %(span)s", {span: text}) : _("%(span)s overdue", {span: text});
    });
  }

  function showSelection() {
    counter.textContent = _("%(n)s selected", {n: selected.size});
  }

  // After each render: fill the rows' lists from the bar's, restore the selection.
  function bind() {
    const onBoard = new Set();
    holder.querySelectorAll("input.pick").forEach((box) => {
      onBoard.add(box.value);
      box.checked = selected.has(box.value);
    });
    Array.from(selected).forEach((id) => { if (!onBoard.has(id)) selected.delete(id); });
    holder.querySelectorAll("select.reassign-one").forEach((list) => {
      Array.from(target.children).forEach((option, index) => {
        if (index > 0) list.appendChild(option.cloneNode(true));
      });
    });
    showSelection();
    refreshTimes(holder);
    refreshDue();
  }

  function change(value) {  // "agent:ID", "team:ID" or "none" -> the bulk body
    if (value === "none") return {assignee: null};
    const [kind, id] = value.split(":");
    return kind === "team" ? {team: Number(id)} : {assignee: Number(id)};
  }

  async function reassign(ids, value) {
    problem.hidden = true;
    const missing = !ids.length ? _("Select tickets first.")
      : !value ? _("Choose whom to give them to.") : null;
    if (missing) { problem.textContent = missing; problem.hidden = false; return; }
    if (busy) return;
    busy = true;
    bar.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const result = await api("POST", "/api/v1/tickets/bulk",
                               Object.assign({ids: ids.map(Number)}, change(value)));
      if (!result.ok) {
        problem.textContent = errorText(result);
        problem.hidden = false;
        return;
      }
      ids.forEach((id) => selected.delete(String(id)));
      target.value = "";
      showSelection();
      if (timer) { clearTimeout(timer); timer = null; }
      refresh();
    } finally {
      busy = false;
      bar.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  holder.addEventListener("change", (event) => {
    const node = event.target;
    if (node.matches("input.pick")) {
      if (node.checked) selected.add(node.value); else selected.delete(node.value);
      // A ticket may be in both lists: keep its two boxes alike.
      holder.querySelectorAll('input.pick[value="' + node.value + '"]').forEach((box) => {
        box.checked = node.checked;
      });
      showSelection();
    } else if (node.matches("select.reassign-one") && node.value) {
      const value = node.value;
      node.blur();
      reassign([node.dataset.ticket], value);
    }
  });
  bar.addEventListener("submit", (event) => {
    event.preventDefault();
    reassign(Array.from(selected), target.value);
  });
  bar.querySelector('[data-action="clear"]').addEventListener("click", () => {
    selected.clear();
    holder.querySelectorAll("input.pick").forEach((box) => { box.checked = false; });
    problem.hidden = true;
    showSelection();
  });

  socket.on("ticket.created", () => schedule());
  socket.on("ticket.updated", () => schedule());
  socket.on("presence", (data) => {
    holder.querySelectorAll('[data-presence-label="' + data.agent.id + '"]').forEach((node) => {
      node.textContent = data.status;
    });
  });
  let connected = socket.connected;
  socket.on("connect", () => {  // after a reconnect, catch up with what was missed
    if (connected) schedule();
    connected = true;
  });
  setInterval(() => schedule(), 60000);  // tickets come near their SLA as time passes
  setInterval(refreshDue, 30000);
  bind();
})();
