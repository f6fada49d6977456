// The inbox: rows appear, move and leave live. On ticket.created / ticket.updated /
// message.created the server is asked which of those tickets belong on this screen
// (same filters, same access rule, same row template), so nothing is decided twice.
(function () {
  "use strict";
  const {socket, refreshTimes} = window.helpdesk;
  const table = document.querySelector("table.inbox");
  const body = table.querySelector("tbody");
  const empty = document.querySelector(".empty");
  const filter = JSON.parse(table.dataset.filter);
  const firstPage = table.dataset.page === "1";
  let pending = new Set();
  let timer = null;

  function schedule(ticketId) {
    pending.add(ticketId);
    if (!timer) timer = setTimeout(flush, 150);  // one request for a burst of events
  }

  async function flush() {
    timer = null;
    const ids = Array.from(pending);
    pending = new Set();
    const params = new URLSearchParams(filter);
    params.set("ids", ids.join(","));
    let data;
    try {
      data = await (await window.helpdesk.fragment("/inbox/rows?" + params)).json();
    } catch (e) { return; }
    for (const [id, html] of Object.entries(data.rows)) {
      const old = body.querySelector('tr[data-ticket="' + id + '"]');
      if (html === null) { if (old) old.remove(); continue; }
      const holder = document.createElement("tbody");
      holder.innerHTML = html;  // rendered and escaped by the server's row template
      const row = holder.firstElementChild;
      if (old) old.remove();
      else if (!firstPage) continue;  // a new ticket belongs on the first page
      place(row);
      row.classList.add("fresh");
      refreshTimes(row);
    }
    for (const [view, count] of Object.entries(data.counts)) {
      document.querySelectorAll('[data-count="' + view + '"]').forEach((n) => { n.textContent = count; });
    }
    empty.hidden = body.children.length > 0;
  }

  function place(row) {  // newest activity first, as the server orders the page
    const last = row.dataset.last;
    for (const other of body.children) {
      if (other.dataset.last <= last) { body.insertBefore(row, other); return; }
    }
    body.appendChild(row);
  }

  socket.on("ticket.created", (data) => schedule(data.ticket.id));
  socket.on("ticket.updated", (data) => schedule(data.ticket.id));
  socket.on("message.created", (data) => schedule(data.ticket.id));
  let connected = socket.connected;
  socket.on("connect", () => {  // after a reconnect, catch up with what is on screen
    if (connected) {
      body.querySelectorAll("tr[data-ticket]").forEach((row) => schedule(Number(row.dataset.ticket)));
    }
    connected = true;
  });
})();
