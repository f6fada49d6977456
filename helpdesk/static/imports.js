// The import screen: upload a CSV file (its text goes to POST /api/v1/imports with a dry
// run), show its columns with a few values and a select per column (pre-filled with the
// server's guess), the dry run's counts and rows; "check again" dry-runs the changed
// mapping, "import now" runs it for real (POST /api/v1/imports/ID/run). While a run goes
// on the page asks GET /api/v1/imports/ID every second and moves the progress bar; at the
// end the report (CSV) is offered for download. Values are put in with textContent only.
(function () {
  "use strict";
  const {api, errorText, el} = window.helpdesk;
  const upload = document.getElementById("import-upload");
  if (!upload) return;
  const work = document.getElementById("import-work");
  const mappingForm = document.getElementById("import-mapping");
  const startButton = document.getElementById("import-start");
  const bar = document.getElementById("import-progress");
  const percent = document.getElementById("import-percent");
  const reportLink = document.getElementById("import-report");
  const TEXT = {
    uploading: _("Uploading and checking…"),
    checking: _("Checking every row (nothing is written)…"),
    queued: _("Waiting for a worker…"),
    running: _("Importing…"),
    done: _("Imported."),
    failed: _("The import broke off:") + " ",
    summary: (i) => `${i.filename}: ` + _("%(n)s rows", {n: i.total}) + `, ${LABELS[i.source] || i.source} ` +
      `${i.kind === "organizations" ? _("organizations") : _("customers")}`,
    wouldBe: _("A dry run: nothing was written yet."),
    outcomes: {created: _("created"), updated: _("updated"), merged: _("merged"), refused: _("refused")},
    wouldOutcomes: {created: _("would be created"), updated: _("would be updated"),
                    merged: _("would be merged"), refused: _("refused")},
    ignore: _("— ignore —"),
    field: _("custom field:") + " ",
    noFile: _("Choose a CSV file first."),
  };
  const LABELS = {
    hubspot: "HubSpot", pipedrive: "Pipedrive", insightly: "Insightly",
    helpdesk: "helpdesk", custom: _("custom"),
    name: _("name"), first_name: _("first name"), last_name: _("last name"), email: _("email"),
    phone: _("phone"), organization: _("organization"), title: _("title"), key_person: _("key person"),
    language: _("language"), preferred_channel: _("preferred channel"), tags: _("tags"),
    order_updates: _("consent: order updates"), email_marketing: _("consent: email marketing"),
    sms_marketing: _("consent: SMS marketing"), street: _("street"), house_number: _("house number"),
    postcode: _("postcode"), city: _("city"), country: _("country"), created_at: _("created"),
    account_manager: _("account manager"), domain: _("domain"), industry: _("industry"),
  };
  let current = null;
  let timer = null;

  function problem(form, text) {
    const node = form.querySelector(".form-error");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function targetLabel(target) {
    if (target === "ignore") return TEXT.ignore;
    if (target.startsWith("field.")) return TEXT.field + target.slice(6);
    return LABELS[target] || target;
  }

  function renderColumns(item) {
    const body = mappingForm.querySelector("tbody");
    body.replaceChildren();
    item.columns.forEach((column) => {
      const select = el("select", {"aria-label": _("Goes to: %(column)s", {column: column.name}), "data-column": column.name});
      item.targets.forEach((target) => {
        const option = el("option", {value: target}, targetLabel(target));
        if (target === column.target) option.selected = true;
        select.append(option);
      });
      const row = el("tr");
      row.append(el("td", {}, column.name), el("td", {class: "samples"}, column.samples.join(" · ")));
      const cell = el("td");
      cell.append(select);
      row.append(cell);
      body.append(row);
    });
  }

  function renderReport(item) {
    const words = item.dry_run ? TEXT.wouldOutcomes : TEXT.outcomes;
    const counts = document.getElementById("import-counts");
    counts.replaceChildren();
    if (item.status === "checked" || item.status === "done") {
      Object.entries(words).forEach(([key, word]) => {
        counts.append(el("span", {"data-outcome": key}, `${(item.counts || {})[key] || 0} ${word}`));
      });
      if (item.dry_run) counts.append(el("span", {class: "muted"}, TEXT.wouldBe));
    }
    const body = document.querySelector(".import-rows tbody");
    body.replaceChildren();
    item.rows.forEach((row) => {
      const tr = el("tr", {class: row.outcome});
      tr.append(el("td", {}, String(row.line)), el("td", {}, words[row.outcome] || row.outcome));
      const record = el("td");
      if (row.id) {
        const href = (item.kind === "organizations" ? "/organizations/" : "/customers/") + row.id;
        record.append(el("a", {href}, "#" + row.id));
      }
      tr.append(record, el("td", {}, row.reason || ""));
      body.append(tr);
    });
    document.getElementById("import-more").hidden = item.rows.length < 200;
  }

  function render(item, fresh) {
    current = item;
    work.hidden = false;
    work.dataset.import = item.id;
    work.dataset.status = item.status;
    document.getElementById("import-summary").textContent = TEXT.summary(item);
    if (fresh) renderColumns(item);
    renderReport(item);
    const busy = ["checking", "queued", "running"].includes(item.status);
    startButton.disabled = busy || item.status === "done";
    mappingForm.querySelector("button").disabled = busy || item.status === "done";
    bar.hidden = !(item.status === "queued" || item.status === "running" || item.status === "done");
    bar.value = item.progress;
    const step = startButton.parentElement;
    if (item.status === "failed") problem(step, TEXT.failed + (item.error || ""));
    percent.textContent = item.status === "checking" ? TEXT.checking
      : item.status === "queued" ? TEXT.queued
      : item.status === "running" ? `${TEXT.running} ${item.progress} %`
      : item.status === "done" ? `${TEXT.done} 100 %` : "";
    reportLink.hidden = !item.report_url || busy;
    if (item.report_url) {
      reportLink.href = item.report_url;
      reportLink.setAttribute("download", item.filename.replace(/\.[^.]*$/, "") + "-report.csv");
    }
    clearTimeout(timer);
    if (busy) timer = setTimeout(poll, 1000);
  }

  async function poll() {
    const result = await api("GET", `/api/v1/imports/${current.id}`);
    if (result.ok) render(result.data, false);
    else timer = setTimeout(poll, 3000);
  }

  function mapping() {
    const chosen = {};
    mappingForm.querySelectorAll("select[data-column]").forEach((select) => {
      chosen[select.dataset.column] = select.value;
    });
    return chosen;
  }

  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = upload.elements.file.files[0];
    if (!file) { problem(upload, TEXT.noFile); return; }
    problem(upload, "");
    const button = upload.querySelector("button");
    button.disabled = true;
    percent.textContent = TEXT.uploading;
    try {
      const body = {filename: file.name, content: await file.text(), dry_run: true,
                    format: upload.elements.format.value};
      if (upload.elements.kind.value) body.kind = upload.elements.kind.value;
      const result = await api("POST", "/api/v1/imports", body);
      if (!result.ok) { problem(upload, errorText(result)); return; }
      render(result.data, true);
    } finally {
      button.disabled = false;
    }
  });

  // Until the server answers, the page says the run is on its way (buttons disabled).
  function busy(status) {
    work.dataset.status = status;
    startButton.disabled = true;
    mappingForm.querySelector("button").disabled = true;
    percent.textContent = TEXT[status];
  }

  mappingForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem(mappingForm, "");
    const was = current;
    busy("checking");
    const result = await api("POST", `/api/v1/imports/${current.id}/run`,
                             {mapping: mapping(), dry_run: true});
    if (!result.ok) { problem(mappingForm, errorText(result)); render(was, false); return; }
    render(result.data, false);
  });

  startButton.addEventListener("click", async () => {
    const step = startButton.parentElement;
    problem(step, "");
    const was = current;
    busy("queued");
    const result = await api("POST", `/api/v1/imports/${current.id}/run`,
                             {mapping: mapping(), dry_run: false});
    if (!result.ok) { problem(step, errorText(result)); render(was, false); return; }
    render(result.data, false);
  });
})();
