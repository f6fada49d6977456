// The customer list: picking rows, bulk actions (POST /api/v1/customers/bulk, or the
// export's URL), saving the filter as a segment (POST /api/v1/segments). The list itself
// is rendered by the server; after a change the page is loaded again.
(function () {
  "use strict";
  const {api, errorText} = window.helpdesk;
  // Empty filter fields stay out of the URL, so a bookmark says only what is filtered.
  const filters = document.querySelector("form.customer-filters");
  filters.addEventListener("submit", () => {
    Array.from(filters.elements).forEach((field) => {
      if (field.name && !field.value) field.disabled = true;
    });
  });
  const bar = document.getElementById("bulk");
  if (!bar) return;
  const TEXT = {
    selected: (n) => _("%(n)s selected", {n}),
    changed: (n) => (n === 1 ? _("%(n)s customer changed", {n}) : _("%(n)s customers changed", {n})),
    nothing: _("Select customers, or tick “all matching the filter”."),
    noTag: _("Name the tag."),
    saved: _("Saved."),
  };
  const filter = JSON.parse(bar.dataset.filter);
  const picks = () => Array.from(document.querySelectorAll("input.pick"));
  const counter = document.getElementById("selected-count");
  const problem = bar.querySelector(".form-error");
  const done = bar.querySelector(".done");

  function query(values) {
    const params = new URLSearchParams();
    Object.entries(values).forEach(([key, value]) => {
      (Array.isArray(value) ? value : [value]).forEach((v) => params.append(key, v));
    });
    return params;
  }

  function chosen() {
    return picks().filter((box) => box.checked).map((box) => Number(box.value));
  }

  function showSelection() {
    counter.textContent = TEXT.selected(bar.elements.everything.checked
      ? Number(bar.dataset.total) : chosen().length);
  }

  function showFields() {
    const action = bar.elements.action.value;
    bar.elements.tag.hidden = !(action === "tag" || action === "untag");
    bar.elements.account_manager.hidden = action !== "set_account_manager";
  }

  function fail(message) {
    problem.textContent = message;
    problem.hidden = false;
    done.hidden = true;
  }

  document.getElementById("pick-all").addEventListener("change", (event) => {
    picks().forEach((box) => { box.checked = event.target.checked; });
    showSelection();
  });
  picks().forEach((box) => box.addEventListener("change", showSelection));
  bar.elements.everything.addEventListener("change", showSelection);
  bar.elements.action.addEventListener("change", showFields);
  showFields();

  bar.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const everything = bar.elements.everything.checked;
    const ids = chosen();
    if (!everything && !ids.length) { fail(TEXT.nothing); return; }
    const action = bar.elements.action.value;
    if (action.startsWith("export")) {
      const params = everything ? query(filter) : query({ids: ids.join(",")});
      params.set("format", action === "export-xlsx" ? "xlsx" : "csv");
      window.location.href = "/api/v1/customers/export?" + params;
      return;
    }
    const body = {action};
    if (everything) body.filter = filter; else body.ids = ids;
    if (action === "set_account_manager") {
      const manager = bar.elements.account_manager.value;
      body.account_manager = manager ? Number(manager) : null;
    } else {
      const tag = bar.elements.tag.value.trim();
      if (!tag) { fail(TEXT.noTag); return; }
      body.tag = tag;
    }
    const result = await api("POST", "/api/v1/customers/bulk", body);
    if (!result.ok) { fail(errorText(result)); return; }
    done.textContent = TEXT.changed(result.data.changed);
    done.hidden = false;
    setTimeout(() => window.location.reload(), 600);
  });

  const save = document.getElementById("save-segment");
  save.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = save.querySelector(".form-error");
    error.hidden = true;
    const result = await api("POST", "/api/v1/segments", {
      name: save.elements.name.value.trim(),
      filter,
      shared: save.elements.shared.checked,
    });
    if (!result.ok) {
      error.textContent = errorText(result);
      error.hidden = false;
      return;
    }
    const params = query(result.data.filter);
    params.set("segment", result.data.id);
    window.location.href = "/customers?" + params;
  });
})();
