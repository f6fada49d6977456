// The browser softphone: Twilio's Voice JavaScript SDK (static/vendor/twilio.min.js, a
// global Twilio.Device) registered under this agent's identity with a token from
// GET /api/v1/voice/token, renewed before it expires. An incoming call gets answer,
// decline, hang up and mute on the call card (app.js fills the card with the caller);
// while a call is up the agent's presence is "on_call", so no second call rings them.
// Hold, resume and transfer move the customer's leg on the server (POST
// /api/v1/calls/ID/hold|resume|transfer): hold ends this browser's leg, resume rings it
// again and it is answered at once. A [data-dial] button (the customer record) calls
// the customer: Device.connect with To and customer, answered by the TwiML App.
(function () {
  "use strict";
  const helpdesk = window.helpdesk;
  const popup = document.getElementById("call-popup");
  if (!helpdesk || !popup || !window.Twilio || !window.Twilio.Device) return;
  const {api, el, socket, errorText, me} = helpdesk;
  const FINAL = ["completed", "no-answer", "busy", "failed", "canceled"];
  const presence = document.getElementById("my-presence");
  const heading = popup.querySelector("header strong");

  const controls = el("div", {class: "call-controls", id: "softphone"});
  const state = el("p", {class: "call-state", role: "status"});
  function button(name, label, classes) {
    const node = el("button", {type: "button", class: classes || "", "data-action": name}, label);
    node.hidden = true;
    controls.appendChild(node);
    return node;
  }
  controls.appendChild(state);
  const answer = button("answer", _("Answer"), "primary");
  const decline = button("decline", _("Decline"), "danger");
  const mute = button("mute", _("Mute"));
  const hold = button("hold", _("Hold"));
  const resume = button("resume", _("Resume"), "primary");
  const hangup = button("hangup", _("Hang up"), "danger");
  const transferTo = el("select", {class: "transfer-target", "aria-label": _("Transfer to")});
  transferTo.hidden = true;
  controls.appendChild(transferTo);
  const transfer = button("transfer", _("Transfer"));
  popup.appendChild(controls);

  let device = null;
  let current = null;
  let callId = null;  // our Call row of the call up (from call.updated), for hold/transfer

  function show(phase) {
    const talking = phase === "talking", held = phase === "held";
    answer.hidden = decline.hidden = phase !== "ringing";
    mute.hidden = hold.hidden = !talking;
    hangup.hidden = !(talking || phase === "calling");
    resume.hidden = !held;
    transfer.hidden = transferTo.hidden = !(talking || held);
    state.textContent = phase === "ringing" ? _("Ringing in your browser")
      : talking ? _("On the call")
      : phase === "calling" ? _("Calling…")
      : held ? _("On hold")
      : phase === "resuming" ? _("Taking the call back…") : "";
    controls.dataset.phase = phase;
    if (talking) mute.textContent = current && current.isMuted() ? _("Unmute") : _("Mute");
    if (talking || held) loadTargets();
  }

  let targetsLoaded = false;
  async function loadTargets() {
    if (targetsLoaded) return;
    targetsLoaded = true;
    const [agents, teams] = await Promise.all([api("GET", "/api/v1/agents?per_page=100"),
                                               api("GET", "/api/v1/teams?per_page=100")]);
    const group = (label, items, kind) => {
      const node = el("optgroup", {label});
      items.forEach((item) => node.appendChild(el("option", {value: kind + ":" + item.id}, item.name)));
      transferTo.appendChild(node);
    };
    if (teams.ok) group(_("Teams"), teams.data.items, "team");
    if (agents.ok) group(_("Agents"), agents.data.items.filter((a) => a.id !== me && a.active !== false), "agent");
  }

  function setPresence(status) {
    socket.emit("presence", {status});
  }

  function ended(call) {
    if (call !== current) return;
    const phase = controls.dataset.phase;
    if (phase === "held" || phase === "resuming") { current = null; return; }  // hold ended this leg
    const talked = phase === "talking";
    current = null;
    callId = null;
    show("idle");
    popup.hidden = true;
    if (talked) setPresence(presence ? presence.value : "online");
  }

  function follow(call) {
    current = call;
    call.on("accept", () => { show("talking"); setPresence("on_call"); });
    ["disconnect", "cancel", "reject", "error"].forEach((name) => call.on(name, () => ended(call)));
  }

  function incoming(call) {
    if (controls.dataset.phase === "resuming" && !current) {  // the held call rings back
      follow(call);
      call.accept();
      return;
    }
    if (current || controls.dataset.phase === "held") {  // on a call: no second one rings
      call.reject();
      return;
    }
    follow(call);
    heading.textContent = _("Incoming call");
    show("ringing");
    popup.hidden = false;
  }

  // Which of our calls this is: the server tells the screens who took it.
  function track(data) {
    const call = data && data.call;
    if (!call || call.agent_id !== me) return;
    if (FINAL.includes(call.status)) {
      if (call.id === callId && (controls.dataset.phase === "held" || controls.dataset.phase === "resuming")) {
        callId = null;  // the customer hung up while on hold
        show("idle");
        popup.hidden = true;
        setPresence(presence ? presence.value : "online");
      }
      return;
    }
    if (current || ["calling", "ringing", "talking", "held"].includes(controls.dataset.phase)) callId = call.id;
  }
  socket.on("call.updated", track);
  socket.on("call.incoming", track);

  async function act(path, body) {
    if (!callId) { state.textContent = _("The call is not connected yet."); return null; }
    const result = await api("POST", "/api/v1/calls/" + callId + "/" + path, body);
    if (!result.ok) state.textContent = errorText(result);
    return result.ok ? result : null;
  }
  hold.addEventListener("click", async () => {
    if (await act("hold")) show("held");
  });
  resume.addEventListener("click", async () => {
    show("resuming");
    if (!await act("resume")) show("held");
  });
  transfer.addEventListener("click", async () => {
    const [kind, id] = (transferTo.value || ":").split(":");
    if (!id) return;
    const wasHeld = controls.dataset.phase === "held";
    if (!await act("transfer", {[kind]: Number(id)})) return;
    const leg = current;
    if (wasHeld) controls.dataset.phase = "idle";
    callId = null;
    show("idle");
    popup.hidden = true;
    setPresence(presence ? presence.value : "online");
    if (leg) { current = null; leg.disconnect(); }
  });

  // Click-to-call: a [data-dial] button anywhere (the customer record).
  document.addEventListener("click", async (event) => {
    const target = event.target.closest("[data-dial]");
    if (!target || !device || current || controls.dataset.phase === "held") return;
    event.preventDefault();
    const body = popup.querySelector(".call-body");
    body.replaceChildren(el("h3", {class: "caller-name"}, target.dataset.name || ""),
                         el("p", {class: "caller-number"}, target.dataset.dial));
    heading.textContent = _("Outgoing call");
    popup.hidden = false;
    show("calling");
    const call = await device.connect({params: {To: target.dataset.dial, customer: target.dataset.customer}});
    follow(call);
  });

  answer.addEventListener("click", () => current && current.accept());
  decline.addEventListener("click", () => current && current.reject());
  hangup.addEventListener("click", () => current && current.disconnect());
  mute.addEventListener("click", () => {
    if (!current) return;
    current.mute(!current.isMuted());
    show("talking");
  });

  async function token() {
    const result = await api("GET", "/api/v1/voice/token");
    return result.ok ? result.data.token : null;  // 409: no browser phone configured
  }

  async function start() {
    const first = await token();
    if (!first) return;
    device = new window.Twilio.Device(first, {closeProtection: true});
    device.on("tokenWillExpire", async () => {
      const fresh = await token();
      if (fresh) device.updateToken(fresh);
    });
    device.on("incoming", incoming);
    device.on("error", (error) => { state.textContent = _("Browser phone: %(error)s", {error: error.message}); });
    await device.register();
    controls.dataset.registered = "1";
  }
  show("idle");
  start();
  window.helpdeskSoftphone = {get device() { return device; }, get call() { return current; }};
})();
