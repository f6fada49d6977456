// The browser softphone: Twilio's Voice JavaScript SDK (static/vendor/twilio.min.js, a
// global Twilio.Device) registered under this agent's identity with a token from
// GET /api/v1/voice/token, renewed before it expires. An incoming call gets answer,
// decline, hang up and mute on the call card (app.js fills the card with the caller);
// while a call is up the agent's presence is "on_call", so no second call rings them.
(function () {
  "use strict";
  const helpdesk = window.helpdesk;
  const popup = document.getElementById("call-popup");
  if (!helpdesk || !popup || !window.Twilio || !window.Twilio.Device) return;
  const {api, el, socket} = helpdesk;
  const presence = document.getElementById("my-presence");

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
  const hangup = button("hangup", _("Hang up"), "danger");
  popup.appendChild(controls);

  let device = null;
  let current = null;

  function show(phase) {
    answer.hidden = decline.hidden = phase !== "ringing";
    mute.hidden = hangup.hidden = phase !== "talking";
    state.textContent = phase === "ringing" ? _("Ringing in your browser")
      : phase === "talking" ? _("On the call") : "";
    controls.dataset.phase = phase;
    if (phase === "talking") mute.textContent = current && current.isMuted() ? _("Unmute") : _("Mute");
  }

  function setPresence(status) {
    socket.emit("presence", {status});
  }

  function ended(call) {
    if (call !== current) return;
    const talked = controls.dataset.phase === "talking";
    current = null;
    show("idle");
    popup.hidden = true;
    if (talked) setPresence(presence ? presence.value : "online");
  }

  function incoming(call) {
    if (current) {  // already on a call: a second one does not ring this agent
      call.reject();
      return;
    }
    current = call;
    call.on("accept", () => { show("talking"); setPresence("on_call"); });
    ["disconnect", "cancel", "reject", "error"].forEach((name) => call.on(name, () => ended(call)));
    show("ringing");
    popup.hidden = false;
  }

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
