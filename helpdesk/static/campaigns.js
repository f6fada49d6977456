// The campaign page: save a draft (POST or PATCH /api/v1/campaigns), preview it for the
// segment's first customer, send a test to oneself, send now or at a time; while it is
// sent, the progress bar and counts follow the "campaign.progress" events (sent only to
// the agents who may see campaigns). Values are put in with textContent only.
(function () {
  "use strict";
  const {api, errorText, socket} = window.helpdesk;
  const page = document.getElementById("campaign");
  if (!page) return;
  const form = document.getElementById("campaign-form");
  const note = form.querySelector(".form-note");
  const error = form.querySelector(".form-error");
  let id = page.dataset.campaign;

  function say(text, isError) {
    error.hidden = !isError;
    error.textContent = isError ? text : "";
    note.textContent = isError ? "" : (text || "");
  }

  function body() {
    const data = new FormData(form);
    const value = (name) => (data.get(name) || "").trim();
    const result = {name: value("name"), channel: value("channel") || "email", body: data.get("body") || ""};
    result.segment = value("segment") ? Number(value("segment")) : null;
    result.mailbox = value("mailbox") ? Number(value("mailbox")) : null;
    result.subject = result.channel === "email" ? (data.get("subject") || "") : null;
    return result;
  }

  function showChannel() {
    const sms = form.elements.channel && form.elements.channel.value === "sms";
    form.querySelectorAll(".email-only").forEach((node) => { node.hidden = sms; });
  }
  if (form.elements.channel) form.elements.channel.addEventListener("change", showChannel);
  showChannel();

  async function save() {
    const result = id ? await api("PATCH", `/api/v1/campaigns/${id}`, body())
                      : await api("POST", "/api/v1/campaigns", body());
    if (!result.ok) { say(errorText(result), true); return false; }
    if (!id) { window.location.assign(`/campaigns/${result.data.id}`); return false; }
    say(_("Draft saved."));
    return true;
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });

  const previewButton = document.getElementById("campaign-preview");
  if (previewButton) previewButton.addEventListener("click", async () => {
    if (!(await save())) return;
    const result = await api("POST", `/api/v1/campaigns/${id}/preview`, {});
    if (!result.ok) { say(errorText(result), true); return; }
    const box = document.getElementById("campaign-preview-box");
    box.querySelector(".preview-subject").textContent = result.data.subject || "";
    box.querySelector(".preview-body").textContent = result.data.body;
    box.hidden = false;
  });

  const testButton = document.getElementById("campaign-test");
  if (testButton) testButton.addEventListener("click", async () => {
    if (!(await save())) return;
    const result = await api("POST", `/api/v1/campaigns/${id}/test`);
    say(result.ok ? _("A test is on its way to you.") : errorText(result), !result.ok);
  });

  const sendButton = document.getElementById("campaign-send");
  if (sendButton) sendButton.addEventListener("click", async () => {
    if (!(await save())) return;
    if (!window.confirm(_("Send this campaign to the segment now (or at the time given)?"))) return;
    const at = form.elements.at.value;
    const result = await api("POST", `/api/v1/campaigns/${id}/send`, at ? {at: new Date(at).toISOString()} : {});
    if (!result.ok) { say(errorText(result), true); return; }
    window.location.reload();
  });

  const cancelButton = document.getElementById("campaign-cancel");
  if (cancelButton) cancelButton.addEventListener("click", async () => {
    if (!window.confirm(_("Stop this campaign? Nothing more goes out."))) return;
    const result = await api("POST", `/api/v1/campaigns/${id}/cancel`);
    if (result.ok) window.location.reload(); else say(errorText(result), true);
  });

  function show(data) {
    if (String(data.id) !== String(id)) return;
    const counts = data.counts || {};
    Object.entries(counts).forEach(([key, value]) => {
      const node = page.querySelector(`[data-count="${key}"]`);
      if (node) node.textContent = Number(value).toLocaleString(document.documentElement.lang || undefined);
    });
    const bar = document.getElementById("campaign-bar");
    if (bar) {
      bar.max = Math.max(1, counts.recipients || 0);
      bar.value = (counts.recipients || 0) - (counts.pending || 0);  // done, whatever the outcome
    }
    const status = document.getElementById("campaign-status");
    if (status) status.textContent = _(data.status);
    page.dataset.status = data.status;
    if (cancelButton && !["preparing", "sending"].includes(data.status)) cancelButton.hidden = true;
    if (data.status === "sending" && !bar) window.location.reload();  // it started: show progress
  }
  if (socket) socket.on("campaign.progress", show);
})();
