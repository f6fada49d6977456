// The notification bell (templates/_bell.html): the unread count, the newest
// notifications, mark one or all read; live on "notification" events. Optional
// desktop notifications (the permission asked on a click) and a short beep for new
// chats and calls (Web Audio, switched on per browser). Texts come from the server.
(function () {
  "use strict";
  const bell = document.getElementById("bell");
  if (!bell || !window.helpdesk) return;
  const {api, el, socket} = window.helpdesk;
  const button = bell.querySelector(".bell-button");
  const panel = bell.querySelector(".bell-panel");
  const count = bell.querySelector(".bell-count");
  const list = bell.querySelector(".bell-list");
  const empty = bell.querySelector(".bell-empty");
  const readLabel = bell.querySelector(".bell-read-label").innerHTML.trim();

  function showCount(unread) {
    count.textContent = unread > 99 ? "99+" : String(unread);
    count.hidden = unread === 0;
    bell.dataset.unread = String(unread);
  }

  function item(n) {
    const li = el("li", {class: n.read_at ? "read" : "unread", "data-id": String(n.id)});
    const href = n.ticket ? "/tickets/" + n.ticket.id : "#";
    const link = el("a", {href});
    link.appendChild(el("strong", {}, n.title));
    if (n.ticket) link.appendChild(el("span", {class: "bell-ticket"}, " #" + n.ticket.number + " " + (n.ticket.subject || "")));
    if (n.text) link.appendChild(el("span", {class: "bell-text"}, n.text));
    const meta = el("span", {class: "bell-meta"});
    if (n.actor) meta.appendChild(document.createTextNode(n.actor.name + " · "));
    meta.appendChild(el("time", {class: "ago", datetime: n.created_at}));
    link.appendChild(meta);
    link.addEventListener("click", () => { if (!n.read_at) markRead([n.id]); });
    li.appendChild(link);
    if (!n.read_at) {
      const mark = el("button", {type: "button", class: "bell-mark link", title: readLabel, "aria-label": readLabel}, "✓");
      mark.addEventListener("click", () => markRead([n.id]));
      li.appendChild(mark);
    }
    return li;
  }

  async function refresh() {
    const result = await api("GET", bell.dataset.api + "?per_page=15");
    if (!result.ok) return;
    showCount(result.data.unread);
    list.replaceChildren(...result.data.items.map(item));
    empty.hidden = result.data.items.length > 0;
    window.helpdesk.refreshTimes(list);
  }

  async function markRead(ids) {
    const result = await api("POST", bell.dataset.read, ids ? {ids} : {all: true});
    if (result.ok) refresh();
  }

  function toggle(open) {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) refresh();
  }
  button.addEventListener("click", (e) => { e.stopPropagation(); toggle(panel.hidden); });
  document.addEventListener("click", (e) => { if (!bell.contains(e.target)) toggle(false); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) toggle(false); });
  bell.querySelector(".bell-all").addEventListener("click", () => markRead(null));

  // Desktop notifications: offered while the browser has not been asked.
  const desktop = bell.querySelector(".bell-desktop");
  const canNotify = "Notification" in window;
  desktop.hidden = !canNotify || Notification.permission !== "default";
  desktop.addEventListener("click", async () => {
    await Notification.requestPermission();
    desktop.hidden = Notification.permission !== "default";
  });

  // A short beep for new chats and calls, when switched on in this browser.
  const sound = bell.querySelector(".bell-sound input");
  const SOUND_KEY = "helpdesk.sound";
  let audio = null;
  sound.checked = localStorage.getItem(SOUND_KEY) === "on";
  sound.addEventListener("change", () => {
    localStorage.setItem(SOUND_KEY, sound.checked ? "on" : "off");
    if (sound.checked) beep();  // the click lets the page start audio
  });
  function beep() {
    if (!sound.checked || !(window.AudioContext || window.webkitAudioContext)) return;
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  }

  socket.on("notification", (data) => {
    bell.classList.remove("pop");
    void bell.offsetWidth;  // restart the animation
    bell.classList.add("pop");
    refresh();
    if (canNotify && Notification.permission === "granted" && document.hidden) {
      const shown = new Notification(data.title, {body: data.text, tag: "helpdesk-" + data.kind + "-" + (data.ticket && data.ticket.id)});
      shown.onclick = () => { window.focus(); if (data.ticket) location.href = "/tickets/" + data.ticket.id; };
    }
  });
  socket.on("ticket.created", (data) => { if (data.ticket && data.ticket.channel === "chat") beep(); });
  socket.on("call.incoming", beep);
  // The count came with the page; once live (and after a reconnect) catch up with
  // whatever arrived between the page and the connection.
  socket.on("connect", refresh);
  if (socket.connected) refresh();
})();
