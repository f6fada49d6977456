/*! helpdesk live chat widget. Paste into any page:
 *   <script src="https://HELPDESK/chat/widget.js" data-channel="KEY" async></script>
 * Optional attributes: data-identity (a signed token naming a logged-in customer),
 * data-title (the window's title), data-color, data-text-color, data-language ("de" or
 * "en"; else the browser's). Everything is drawn inside a Shadow DOM on
 * #helpdesk-chat, so the page's CSS does not reach in and ours does not leak out.
 * Text from the server or the visitor is only ever set with textContent.
 */
(function () {
  "use strict";

  const script = document.currentScript ||
    document.querySelector('script[data-channel][src*="/chat/widget.js"]') ||
    document.querySelector("script[data-channel]");
  if (!script || !script.getAttribute("data-channel")) return;
  if (document.getElementById("helpdesk-chat")) return;  // pasted twice: one widget

  const KEY = script.getAttribute("data-channel");
  const IDENTITY = script.getAttribute("data-identity") || undefined;
  let TITLE = "";  // set once the widget's words are there (begin)
  // The widget's words in the visitor's language: the page's choice (data-language),
  // else the browser's (Accept-Language). The desk answers them at /chat/texts; if that
  // cannot be reached, the widget speaks the English it is written in.
  const WANTED = (script.getAttribute("data-language") || "").toLowerCase();
  let LANG = "en";
  let TEXTS = {};
  function _(text, vars) {
    const own = Object.prototype.hasOwnProperty.call(TEXTS, text) && TEXTS[text] ? TEXTS[text] : text;
    if (!vars) return own;
    return own.replace(/%\((\w+)\)s/g, function (all, key) { return key in vars ? String(vars[key]) : all; });
  }
  const HEX = /^#[0-9a-fA-F]{6}$/;
  const ORIGIN = new URL(script.src || location.href, location.href).origin;
  const VISITOR_KEY = "helpdesk-chat-visitor:" + KEY;
  const SECRET_KEY = "helpdesk-chat-secret:" + KEY;  // resumes the conversation with the id
  const KNOWN_KEY = "helpdesk-chat-identified:" + KEY;  // the visitor id that gave an email
  const MAX = 5000;
  const TYPING_EVERY = 2000;
  const TYPING_IDLE = 4000;

  // --- storage (may be blocked: private mode, sandboxed frames) ------------------
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    try {
      if (value === null || value === undefined) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* the conversation then lasts as long as the page */ }
  }

  // --- the Socket.IO client, without disturbing the page's own globals ------------
  let ioReady = null;
  function loadIo() {
    if (ioReady) return ioReady;
    ioReady = new Promise(function (resolve, reject) {
      const existing = window.io;
      if (typeof existing === "function" && existing.protocol >= 5) { resolve(existing); return; }
      // The bundle is UMD: on a RequireJS page it would call define() and never set
      // window.io, so define is hidden while it runs; a page's own (older) io survives.
      const define = window.define;
      const tag = document.createElement("script");
      tag.src = ORIGIN + "/static/vendor/socket.io.min.js";
      tag.async = true;
      function restore() {
        const ours = window.io;
        if (existing === undefined) { try { delete window.io; } catch (e) { window.io = undefined; } }
        else window.io = existing;
        if (define !== undefined) window.define = define;
        return ours;
      }
      tag.onload = function () {
        const ours = restore();
        if (typeof ours === "function") resolve(ours);
        else reject(new Error("the chat client did not load"));
      };
      tag.onerror = function () { restore(); reject(new Error("the chat client did not load")); };
      if (define !== undefined) window.define = undefined;
      (document.head || document.documentElement).appendChild(tag);
    });
    return ioReady;
  }

  // --- DOM helpers ------------------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(path) {  // a small inline SVG, built node by node
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    const shape = document.createElementNS(NS, "path");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", "currentColor");
    svg.appendChild(shape);
    return svg;
  }

  const CSS = `
:host{all:initial}
*{box-sizing:border-box}
[hidden]{display:none!important}
.hd-root{--hc:#2563eb;--ht:#fff;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933;-webkit-font-smoothing:antialiased}
button,input,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer}
.hd-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483646;width:56px;height:56px;border-radius:50%;border:0;background:var(--hc);color:var(--ht);display:flex;align-items:center;justify-content:center;padding:0;box-shadow:0 4px 14px rgba(0,0,0,.25);transition:transform .15s}
.hd-launcher:hover{transform:scale(1.06)}
.hd-launcher svg{display:block}
.hd-launcher:focus-visible,.hd-window button:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}
.hd-badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#dc2626;color:#fff;font-size:12px;line-height:20px;padding:0 5px}
.hd-window{position:fixed;right:20px;bottom:88px;z-index:2147483647;width:360px;height:min(560px,calc(100vh - 110px));display:flex;flex-direction:column;background:#fff;border-radius:12px;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.28)}
.hd-header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--hc);color:var(--ht)}
.hd-title{flex:1;font-weight:600;font-size:15px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.hd-status{font-size:12px;padding:2px 8px;border-radius:10px;background:rgba(255,255,255,.2)}
.hd-status::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:5px;background:#9ca3af;vertical-align:0}
.hd-status[data-online="true"]::before{background:#4ade80}
.hd-close{border:0;background:transparent;color:var(--ht);font-size:22px;line-height:1;padding:0 2px}
.hd-notice{padding:8px 14px;background:#eff6ff;color:#1e3a8a;font-size:13px;white-space:pre-wrap;overflow-wrap:anywhere;border-bottom:1px solid #dbeafe}
.hd-notice.hd-offline{background:#fffbeb;color:#78350f;border-color:#fde68a}
.hd-messages{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f8fafc;overscroll-behavior:contain}
.hd-message{max-width:82%;padding:7px 10px;border-radius:12px;background:#fff;border:1px solid #e5e7eb;align-self:flex-start}
.hd-message.hd-visitor{align-self:flex-end;background:var(--hc);color:var(--ht);border-color:var(--hc)}
.hd-message.hd-bot{background:#f1f5f9;font-style:italic}
.hd-message.hd-pending{opacity:.6}
.hd-meta{font-size:11px;opacity:.75;margin-bottom:2px}
.hd-text{white-space:pre-wrap;overflow-wrap:anywhere}
.hd-receipt{display:block;text-align:right;font-size:11px;opacity:.8;margin-top:2px}
.hd-typing{padding:2px 14px 4px;font-size:12px;font-style:italic;color:#64748b;background:#f8fafc}
.hd-error{padding:6px 14px;font-size:13px;color:#991b1b;background:#fef2f2}
.hd-info{padding:6px 14px;font-size:13px;color:#166534;background:#f0fdf4}
.hd-identify{display:flex;flex-wrap:wrap;gap:6px;padding:8px 12px;border-top:1px solid #e5e7eb}
.hd-identify p{flex-basis:100%;margin:0;font-size:12px;color:#475569}
.hd-identify input{flex:1 1 120px;min-width:0;padding:6px 8px;border:1px solid #cbd5e1;border-radius:6px;background:#fff}
.hd-identify button{padding:6px 10px;border:1px solid #2563eb;border-radius:6px;background:#fff;color:#2563eb}
.hd-compose{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e5e7eb;align-items:flex-end}
.hd-input{flex:1;resize:none;height:42px;max-height:120px;padding:8px 10px;border:1px solid #cbd5e1;border-radius:8px;background:#fff}
.hd-input:focus,.hd-identify input:focus{outline:2px solid #93c5fd;border-color:#2563eb}
.hd-send{padding:0 14px;height:42px;border:0;border-radius:8px;background:var(--hc);color:var(--ht);font-weight:600}
.hd-send:disabled{opacity:.5;cursor:default}
.hd-footer{padding:0 12px 10px;text-align:center}
.hd-rating{margin-top:6px;font-style:normal}
.hd-star{width:34px;height:30px;margin:0 4px 4px 0;border:1px solid #2563eb;border-radius:6px;background:#fff;color:#2563eb;font-weight:600}
.hd-star[aria-pressed=true]{background:#2563eb;color:#fff;text-decoration:underline}
.hd-comment{display:block;width:100%;margin:2px 0 6px;padding:4px 6px;border:1px solid #cbd5e1;border-radius:6px}
.hd-rate{padding:4px 12px;border:0;border-radius:6px;background:#2563eb;color:#fff}
.hd-rate:disabled{opacity:.5}
.hd-transcript{border:0;background:none;color:#2563eb;font-size:12px;text-decoration:underline;padding:0}
@media (max-width:480px) {.hd-window{right:0;bottom:0;width:100vw;height:100vh;height:100dvh;border-radius:0}
}
@media (prefers-reduced-motion:reduce){.hd-launcher{transition:none}}
`;

  // --- the widget -------------------------------------------------------------------
  function build() {
    const host = document.createElement("div");
    host.id = "helpdesk-chat";
    // The page's rules can still reach the host element itself: pin what matters.
    host.style.cssText = "all: initial !important; display: block !important; position: static !important;";
    const root = host.attachShadow({mode: "open"});
    const style = el("style");
    style.textContent = CSS;
    root.appendChild(style);

    const wrap = el("div", "hd-root");
    wrap.setAttribute("lang", LANG);
    const launcher = el("button", "hd-launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-label", _("Open chat"));
    launcher.setAttribute("aria-expanded", "false");
    const launcherIcon = icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    const badge = el("span", "hd-badge");
    badge.hidden = true;
    launcher.append(launcherIcon, badge);

    const win = el("div", "hd-window");
    win.hidden = true;
    win.setAttribute("role", "dialog");
    win.setAttribute("aria-label", TITLE);

    const header = el("div", "hd-header");
    const status = el("span", "hd-status", _("offline"));
    status.dataset.online = "false";
    const close = el("button", "hd-close", "\u00D7");
    close.type = "button";
    close.setAttribute("aria-label", _("Close chat"));
    header.append(el("span", "hd-title", TITLE), status, close);

    const notice = el("div", "hd-notice");
    notice.hidden = true;
    const list = el("div", "hd-messages");
    list.setAttribute("role", "log");
    list.setAttribute("aria-live", "polite");
    const typing = el("div", "hd-typing");
    typing.hidden = true;
    const error = el("div", "hd-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    const info = el("div", "hd-info");
    info.setAttribute("role", "status");
    info.hidden = true;

    const identify = el("form", "hd-identify");
    identify.noValidate = true;
    const identifyHint = el("p", "", _("Your name and email, so we can reach you:"));
    const nameInput = el("input");
    nameInput.name = "name";
    nameInput.type = "text";
    nameInput.placeholder = _("Name");
    nameInput.autocomplete = "name";
    nameInput.maxLength = 200;
    nameInput.setAttribute("aria-label", _("Name"));
    const emailInput = el("input");
    emailInput.name = "email";
    emailInput.type = "email";
    emailInput.placeholder = _("Email");
    emailInput.autocomplete = "email";
    emailInput.maxLength = 254;
    emailInput.setAttribute("aria-label", _("Email"));
    const identifyButton = el("button", "hd-save", _("Save"));
    identifyButton.type = "submit";
    identify.append(identifyHint, nameInput, emailInput, identifyButton);

    const compose = el("div", "hd-compose");
    const input = el("textarea", "hd-input");
    input.maxLength = MAX;
    input.rows = 1;
    input.placeholder = _("Write a message\u2026");
    input.setAttribute("aria-label", _("Message"));
    const send = el("button", "hd-send", _("Send"));
    send.type = "button";
    compose.append(input, send);

    const footer = el("div", "hd-footer");
    const transcript = el("button", "hd-transcript", _("Email me the transcript"));
    transcript.type = "button";
    footer.append(transcript);

    win.append(header, notice, list, typing, error, info, identify, compose, footer);
    wrap.append(win, launcher);
    root.appendChild(wrap);
    document.body.appendChild(host);

    paint(wrap, script.getAttribute("data-color"), script.getAttribute("data-text-color"));
    return {wrap, launcher, badge, win, status, close, notice, list, typing, error, info, identify,
            identifyHint, nameInput, emailInput, identifyButton, input, send, transcript};
  }

  function paint(wrap, color, text) {
    if (HEX.test(color)) wrap.style.setProperty("--hc", color);
    if (HEX.test(text)) wrap.style.setProperty("--ht", text);
  }

  function start() {
    const ui = build();
    let socket = null;
    let visitor = load(VISITOR_KEY) || undefined;
    let secret = load(SECRET_KEY) || undefined;
    let identified = !!visitor && load(KNOWN_KEY) === visitor;
    let online = null;  // unknown until the server says
    let greeting = "";
    let offlineMessage = "";
    let readUpTo = null;
    let unread = 0;
    let refused = false;
    const pending = [];  // messages sent and not yet confirmed: {clientId, text, node}
    // Files both ways: chat/files.js.
    const files = el("script");
    files.src = ORIGIN + "/static/chat/files.js";
    files.onload = function () {
      window.hdFiles.init(ui, ORIGIN, function (d, cb) { if (socket) socket.emit("file", d, cb); }, showError, errorText);
    };
    document.head.appendChild(files);

    // --- showing things ---------------------------------------------------------
    function showError(text) {
      ui.error.textContent = text || "";
      ui.error.hidden = !text;
      if (text) ui.info.hidden = true;
    }
    function showInfo(text) {
      ui.info.textContent = text || "";
      ui.info.hidden = !text;
    }
    function errorText(answer, fallback) {
      if (answer && typeof answer.error === "string" && answer.error) return answer.error;
      if (answer && answer.error && typeof answer.error.message === "string") return answer.error.message;
      return fallback;
    }

    function nearBottom() {
      const l = ui.list;
      return l.scrollHeight - l.scrollTop - l.clientHeight < 60;
    }
    function toBottom() { ui.list.scrollTop = ui.list.scrollHeight; }

    function authorName(m) {
      if (m.author === "visitor") return _("You");
      if (m.name) return m.name;
      return m.author === "bot" ? _("Bot") : _("Support");
    }

    function timeOf(at) {
      if (!at) return "";
      const when = new Date(at);
      if (isNaN(when.getTime())) return "";
      const sameDay = when.toDateString() === new Date().toDateString();
      const opts = sameDay ? {hour: "2-digit", minute: "2-digit"}
        : {day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"};
      try { return when.toLocaleString(LANG, opts); } catch (e) { return when.toISOString(); }
    }

    function isRead(id) {
      return readUpTo !== null && id !== undefined && id !== null && Number(id) <= readUpTo;
    }

    function markRead(node) {
      if (node.classList.contains("hd-read")) return;
      node.classList.add("hd-read");
      const receipt = node.querySelector(".hd-receipt") || node.appendChild(el("span", "hd-receipt"));
      receipt.textContent = _("\u2713 read");
    }

    function messageNode(m) {
      const author = ["visitor", "agent", "bot"].indexOf(m.author) >= 0 ? m.author : "agent";
      const node = el("div", "hd-message hd-" + author);
      if (m.id !== undefined && m.id !== null) node.dataset.id = String(m.id);
      const meta = el("div", "hd-meta", authorName(m));
      const time = timeOf(m.at);
      if (time) {
        const t = el("time", "", " \u00B7 " + time);
        t.dateTime = String(m.at);
        meta.appendChild(t);
      }
      node.append(meta, el("div", "hd-text", m.text === undefined || m.text === null ? "" : m.text));
      node.hdm = m;
      if (window.hdFiles) window.hdFiles.show(node, m);
      if (author === "visitor" && isRead(m.id)) markRead(node);
      if (m.survey && typeof m.survey === "object") node.appendChild(ratingNode(m.survey));
      return node;
    }

    // A survey's question: 1-5 buttons, a comment, Send ("rating"); the thanks replace them.
    function ratingNode(sv) {
      const box = el("div", "hd-rating");
      const done = function (text) {
        box.textContent = "";
        box.appendChild(el("p", "", text || "")).setAttribute("role", "status");
      };
      if (!sv.open) { done(sv.rating ? sv.thanks : sv.expired); return box; }
      const note = el("textarea", "hd-comment");
      const go = el("button", "hd-rate", sv.send || "Send");
      let chosen = 0;
      note.maxLength = 2000;
      note.placeholder = sv.comment || "";
      note.setAttribute("aria-label", note.placeholder);
      go.type = "button";
      go.disabled = true;
      for (let n = 1; n <= 5; n++) {
        const b = el("button", "hd-star", n);
        b.type = "button";
        b.dataset.rating = n;
        b.title = (sv.labels || [])[n - 1] || "";
        b.setAttribute("aria-label", n + " " + b.title);
        b.setAttribute("aria-pressed", "false");
        b.onclick = function () {
          chosen = n;
          for (const o of box.querySelectorAll(".hd-star")) o.setAttribute("aria-pressed", String(o === b));
          go.disabled = false;
        };
        box.appendChild(b);
      }
      go.onclick = function () {
        go.disabled = true;
        socket.emit("rating", {survey: sv.id, rating: chosen, comment: note.value.trim() || null}, function (a) {
          if (a && a.ok) done(a.thanks || sv.thanks);
          else { go.disabled = false; showError(errorText(a, "Your rating could not be sent.")); }
        });
      };
      box.append(note, go);
      return box;
    }

    function shown(id) {
      if (id === undefined || id === null) return null;
      for (const node of ui.list.children) if (node.dataset.id === String(id)) return node;
      return null;
    }

    function append(m) {
      const stay = nearBottom();
      ui.list.appendChild(messageNode(m));
      if (stay || m.author === "visitor") toBottom();
    }

    // --- status, greeting, offline ------------------------------------------------
    function setOnline(value) {
      online = !!value;
      ui.status.textContent = online ? _("online") : _("offline");
      ui.status.dataset.online = online ? "true" : "false";
      const text = online ? greeting : (offlineMessage ||
        _("We are offline right now. Leave your email address and a message; we will answer by email."));
      ui.notice.textContent = text || "";
      ui.notice.hidden = !text;
      ui.notice.classList.toggle("hd-offline", !online);
      updateIdentify();
    }

    function updateIdentify() {
      ui.identify.hidden = identified;
      ui.identifyHint.textContent = online === false
        ? _("We are offline: your email address, so we can answer you:")
        : _("Your name and email, so we can reach you:");
      ui.emailInput.required = online === false;
    }

    // --- open / close ---------------------------------------------------------------
    function setUnread(n) {
      unread = n;
      ui.badge.textContent = n > 9 ? "9+" : String(n);
      ui.badge.hidden = n === 0;
    }

    function open() {
      ui.win.hidden = false;
      ui.launcher.setAttribute("aria-expanded", "true");
      ui.launcher.setAttribute("aria-label", _("Close chat"));
      setUnread(0);
      connect();
      toBottom();
      ui.input.focus();
    }
    function closeWindow() {
      ui.win.hidden = true;
      ui.launcher.setAttribute("aria-expanded", "false");
      ui.launcher.setAttribute("aria-label", _("Open chat"));
    }
    ui.launcher.addEventListener("click", function () {
      if (ui.win.hidden) open(); else { closeWindow(); ui.launcher.focus(); }
    });
    ui.close.addEventListener("click", function () { closeWindow(); ui.launcher.focus(); });
    ui.win.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { closeWindow(); ui.launcher.focus(); }
    });

    // --- the connection ---------------------------------------------------------------
    function connect() {
      if (socket || refused) return;
      socket = "loading";
      ui.status.textContent = _("connecting\u2026");
      loadIo().then(function (io) {
        socket = io(ORIGIN + "/chat", {
          transports: ["websocket"],
          forceNew: true,
          // A function: every (re)connect sends the visitor id and secret the server gave us last.
          auth: function (cb) { cb({channel: KEY, visitor: visitor, secret: secret, identity: IDENTITY}); },
        });
        listen(socket);
      }, function (err) {
        socket = null;
        ui.status.textContent = _("offline");
        showError(_("The chat could not be loaded. Please try again later."));
        if (window.console) console.warn("helpdesk chat:", err.message);
      });
    }

    function listen(s) {
      s.on("connect", function () { showError(""); });

      s.on("connect_error", function (err) {
        ui.status.textContent = _("offline");
        ui.status.dataset.online = "false";
        if (s.active) return;  // a network problem: the client retries by itself
        const why = (err && err.message) || "";
        if (/rate/i.test(why)) {  // too many connections from here: try again later
          showError(_("The chat is busy \u2014 reconnecting shortly\u2026"));
          setTimeout(function () { s.connect(); }, 30000);
          return;
        }
        refused = true;
        showError(_("The chat is not available here.") + (why ? " (" + why + ")" : ""));
        ui.send.disabled = true;
      });

      s.on("disconnect", function () {
        ui.status.textContent = _("offline");
        ui.status.dataset.online = "false";
        showTyping(false);
        // What was in flight may or may not have arrived; give it back to the visitor.
        while (pending.length) failPending(pending[0], _("Connection lost \u2014 your message may not have been sent."));
      });

      s.on("session", function (data) {
        data = data || {};
        if (typeof data.secret === "string") {  // handed out with a new visitor id only
          secret = data.secret;
          save(SECRET_KEY, secret);
        }
        if (data.visitor !== undefined && data.visitor !== null && String(data.visitor) !== visitor) {
          visitor = String(data.visitor);
          save(VISITOR_KEY, visitor);
          identified = load(KNOWN_KEY) === visitor;
        }
        if (data.identified === true) identified = true;
        if (data.read_up_to !== undefined && data.read_up_to !== null && !isNaN(Number(data.read_up_to))) {
          readUpTo = Number(data.read_up_to);  // optional: receipts survive a reload
        }
        greeting = typeof data.greeting === "string" ? data.greeting : "";
        offlineMessage = typeof data.offline_message === "string" ? data.offline_message : "";
        paint(ui.wrap, data.color, data.text_color);
        setOnline(data.online !== false);
        if (Array.isArray(data.history)) {
          const stay = nearBottom();
          ui.list.textContent = "";
          for (const m of data.history) if (m && !shown(m.id)) ui.list.appendChild(messageNode(m));
          for (const p of pending) ui.list.appendChild(p.node);
          if (stay || !ui.win.hidden) toBottom();
        }
      });

      s.on("message", function (m) {
        if (!m || shown(m.id)) return;
        if (m.author === "visitor") {
          // Our own message echoed back before its acknowledgement: adopt the bubble.
          const p = pending.find(function (q) { return q.clientId === m.client_id; }) ||
            pending.find(function (q) { return q.text === m.text; });
          if (p) { confirmPending(p, m.id); return; }
        } else {
          showTyping(false);
          if (ui.win.hidden) setUnread(unread + 1);
        }
        append(m);
      });

      s.on("typing", function (data) {
        showTyping(!!(data && data.typing), data && data.name);
      });

      s.on("read", function (data) {
        if (!data || data.up_to === undefined || data.up_to === null) return;
        const upTo = Number(data.up_to);
        if (isNaN(upTo)) return;
        readUpTo = readUpTo === null ? upTo : Math.max(readUpTo, upTo);
        for (const node of ui.list.querySelectorAll(".hd-message.hd-visitor[data-id]")) {
          if (isRead(node.dataset.id)) markRead(node);
        }
      });

      s.on("status", function (data) { setOnline(!!(data && data.online)); });
    }

    // --- typing -------------------------------------------------------------------------
    let typingTimer = null;
    let typingShownTimer = null;
    let typingSentAt = 0;
    let typingOn = false;
    function typingStopped() {
      clearTimeout(typingTimer);
      typingTimer = null;
      if (typingOn && socket && socket.connected) socket.emit("typing", {typing: false});
      typingOn = false;
      typingSentAt = 0;
    }
    ui.input.addEventListener("input", function () {
      if (!socket || !socket.connected) return;
      if (!ui.input.value) { typingStopped(); return; }
      const now = Date.now();
      if (!typingOn || now - typingSentAt >= TYPING_EVERY) {
        socket.emit("typing", {typing: true});
        typingOn = true;
        typingSentAt = now;
      }
      clearTimeout(typingTimer);
      typingTimer = setTimeout(typingStopped, TYPING_IDLE);
    });

    function showTyping(on, name) {
      clearTimeout(typingShownTimer);
      ui.typing.textContent = on ? (name || _("Support")) + " is typing\u2026" : "";
      ui.typing.hidden = !on;
      // A lost "stopped typing" must not leave the line up for ever.
      if (on) typingShownTimer = setTimeout(function () { showTyping(false); }, 15000);
    }

    // --- sending ------------------------------------------------------------------------
    function newClientId() {
      if (window.crypto && crypto.randomUUID) {
        try { return crypto.randomUUID(); } catch (e) { /* not a secure context */ }
      }
      const bytes = new Uint8Array(16);
      if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
      else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
      return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    }

    function dropPending(p) {
      const i = pending.indexOf(p);
      if (i >= 0) pending.splice(i, 1);
    }

    function confirmPending(p, id) {
      dropPending(p);
      const already = shown(id);
      if (already && already !== p.node) { p.node.remove(); return; }
      p.node.dataset.id = String(id);
      p.node.classList.remove("hd-pending");
      if (isRead(id)) markRead(p.node);
    }

    function failPending(p, message) {
      dropPending(p);
      p.node.remove();
      // Keep the text: back into the box, ahead of anything typed since.
      const now = ui.input.value;
      if (now.indexOf(p.text) !== 0) ui.input.value = (p.text + (now ? "\n" + now : "")).slice(0, MAX);
      showError(message);
    }

    function emitMessage(text) {
      const p = {clientId: newClientId(), text: text, node: null};
      p.node = messageNode({text: text, author: "visitor", at: new Date().toISOString()});
      p.node.classList.add("hd-pending");
      pending.push(p);
      ui.list.appendChild(p.node);
      toBottom();
      ui.input.value = "";
      typingStopped();
      socket.emit("message", {text: text, client_id: p.clientId}, function (answer) {
        if (pending.indexOf(p) < 0) return;  // already settled by the echo or a disconnect
        if (answer && answer.id !== undefined && answer.id !== null) {
          confirmPending(p, answer.id);
          showError("");
        } else {
          failPending(p, errorText(answer, _("Your message could not be sent.")));
        }
      });
    }

    function validEmail(value) {
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
    }

    function sendIdentify(then) {
      const name = ui.nameInput.value.trim();
      const email = ui.emailInput.value.trim();
      if (!validEmail(email)) {
        showError(_("Please enter a valid email address."));
        ui.emailInput.focus();
        return;
      }
      if (!socket || !socket.connected) { showError(_("Not connected \u2014 please try again in a moment.")); return; }
      ui.identifyButton.disabled = true;
      socket.emit("identify", {name: name, email: email}, function (answer) {
        ui.identifyButton.disabled = false;
        if (answer && answer.ok) {
          identified = true;
          if (visitor) save(KNOWN_KEY, visitor);
          updateIdentify();
          showError("");
          if (answer.verified) {
            showInfo((name ? _("Thanks, %(name)s!", {name: name}) : _("Thanks!")) + " " + _("We will answer at %(email)s if you leave.", {email: email}));
          } else if (answer.confirmation_sent) {
            showInfo((name ? _("Thanks, %(name)s!", {name: name}) : _("Thanks!")) + " " +
                     _("We sent a link to %(email)s: follow it to confirm the address, then we can answer you by email.", {email: email}));
          } else {
            showInfo((name ? _("Thanks, %(name)s!", {name: name}) : _("Thanks!")) + " " +
                     _("We could not send a confirmation link to %(email)s just now; please stay in the chat.", {email: email}));
          }
          if (then) then();
        } else {
          showError(errorText(answer, _("Your details could not be saved.")));
        }
      });
    }

    function submit() {
      const text = ui.input.value.replace(/^\s+|\s+$/g, "");
      if (!text) return;
      if (text.length > MAX) { showError(_("Your message is too long (at most %(max)s characters).", {max: MAX})); return; }
      if (!socket || socket === "loading" || !socket.connected) {
        showError(refused ? "The chat is not available here." : _("Not connected \u2014 please try again in a moment."));
        return;
      }
      showError("");
      if (online === false && !identified) {
        // Offline: the answer comes by email, so the address comes first.
        if (!validEmail(ui.emailInput.value.trim())) {
          showError(_("We are offline. Please enter your email address so we can answer you."));
          ui.emailInput.focus();
          return;
        }
        sendIdentify(function () { emitMessage(text); });
        return;
      }
      emitMessage(text);
    }

    ui.send.addEventListener("click", submit);
    ui.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
    ui.identify.addEventListener("submit", function (event) {
      event.preventDefault();
      sendIdentify(null);
    });

    ui.transcript.addEventListener("click", function () {
      if (!socket || !socket.connected) { showError(_("Not connected \u2014 please try again in a moment.")); return; }
      if (!identified && !validEmail(ui.emailInput.value.trim())) {
        showError(_("Please enter your email address first."));
        ui.identify.hidden = false;
        ui.emailInput.focus();
        return;
      }
      const ask = function () {
        ui.transcript.disabled = true;
        socket.emit("transcript", {}, function (answer) {
          ui.transcript.disabled = false;
          if (answer && answer.ok) { showError(""); showInfo(_("The transcript is on its way to your inbox.")); }
          else showError(errorText(answer, _("The transcript could not be sent.")));
        });
      };
      if (identified) ask(); else sendIdentify(ask);
    });

    // A returning visitor reconnects at once (to see replies); a new one only on opening.
    if (visitor) connect();
  }

  function loadTexts() {
    if (typeof fetch !== "function") return Promise.resolve();
    const url = ORIGIN + "/chat/texts" + (WANTED ? "?lang=" + encodeURIComponent(WANTED) : "");
    return fetch(url, {credentials: "omit"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.texts && typeof data.texts === "object") TEXTS = data.texts;
        if (data && typeof data.language === "string") LANG = data.language;
      })
      .catch(function () { /* English, as written */ });
  }
  function begin() {
    loadTexts().then(function () {
      TITLE = script.getAttribute("data-title") || _("Chat with us");
      start();
    });
  }

  if (document.body) begin();
  else document.addEventListener("DOMContentLoaded", begin);
})();
