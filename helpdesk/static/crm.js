// The CRM's forms and in-place editing: /customers/new, /organizations/new, and every
// field of /customers/ID and /organizations/ID (dl.fields .field: click Edit, change,
// Save: a PATCH through the JSON API with the session and its CSRF token). The API's 422
// field errors show next to the field; an email or phone of another customer (409)
// offers to merge that customer into this one.
(function () {
  "use strict";
  const {api, el} = window.helpdesk;
  const TEXT = {
    save: _("Save"), cancel: _("Cancel"), saving: _("Saving…"), none: "—", yes: _("yes"), no: _("no"),
    granted: _("granted"), refused: _("refused"), notAsked: _("not asked"),
    source: _("Where they said so"), belongsTo: " " + _("belongs to") + " ",
    another: _("another customer"), failed: (status) => _("Something went wrong (%(status)s)", {status}),
    fromOrg: " " + _("(the organization’s)"), street: _("Street"), postcode: _("Postcode"), city: _("City"), country: _("Country (DE)"),
  };

  // --- shared: values, errors ------------------------------------------------------

  // A stored time as a day in the page's language (Intl): "6 Dec 2026", "06.12.2026".
  function day(iso) {
    const when = new Date(iso);
    if (isNaN(when.getTime())) return String(iso).slice(0, 10);
    return new Intl.DateTimeFormat(window.helpdeskLang, {dateStyle: "medium"}).format(when);
  }

  function splitList(text) {
    return text.split(/[,;\n]/).map((s) => s.trim()).filter(Boolean);
  }

  // Show each error of a 422 next to the element whose data-errors names its key (or a
  // prefix of it); what matches nothing goes to ``fallback``.
  function showErrors(root, result, fallback) {
    root.querySelectorAll(".field-error").forEach((e) => { e.hidden = true; e.textContent = ""; });
    const error = (result.data && result.data.error) || {};
    const fields = error.fields || {};
    let shown = false;
    Object.entries(fields).forEach(([key, message]) => {
      const candidates = [root, ...root.querySelectorAll("[data-errors]")].filter((n) => n.dataset.errors);
      const holder = candidates.find((node) =>
        node.dataset.errors.split(" ").some((k) => key === k || key.startsWith(k + ".")));
      const target = holder ? holder.querySelector(".field-error") : null;
      if (target) {
        target.textContent = String(message);
        target.hidden = false;
        shown = true;
      }
    });
    if (!shown && fallback) {
      fallback.textContent = error.message || TEXT.failed(result.status);
      fallback.hidden = false;
    }
  }

  async function organizationChoices(input, datalist) {
    const q = input.value.trim();
    const result = await api("GET", "/api/v1/organizations?per_page=20&q=" + encodeURIComponent(q));
    if (!result.ok) return;
    datalist.replaceChildren(...result.data.items.map((o) => el("option", {value: o.name})));
    input._orgs = result.data.items;
  }

  async function organizationId(input) {
    const name = input.value.trim();
    if (!name) return null;
    if (!input._orgs) await organizationChoices(input, document.getElementById(input.getAttribute("list")));
    const found = (input._orgs || []).find((o) => o.name.toLowerCase() === name.toLowerCase());
    return found ? found.id : -1;  // -1: the API answers "unknown id" next to the field
  }

  // 409 on an address: whose it is, and an offer to merge them into ``customerId``.
  async function offerMerge(section, body, customerId) {
    const offer = section.querySelector(".merge-offer");
    if (!offer) return false;
    for (const [key, kind] of [["emails", "email"], ["phones", "phone"]]) {
      for (const value of body[key] || []) {
        const found = await api("GET", "/api/v1/customers?" + kind + "=" + encodeURIComponent(value));
        const owner = found.ok && found.data.items.find((c) => c.id !== customerId);
        if (!owner) continue;
        const text = offer.querySelector(".conflict");
        text.replaceChildren(value + TEXT.belongsTo,
          el("a", {href: "/customers/" + owner.id}, owner.name || TEXT.another), ".");
        offer.hidden = false;
        offer.dataset.from = owner.id;
        return true;
      }
    }
    return false;
  }

  function wireMerge(section, customerId) {
    const offer = section.querySelector(".merge-offer");
    if (!offer || !offer.querySelector(".merge-start")) return;
    const confirm = offer.querySelector(".merge-confirm");
    offer.querySelector(".merge-start").addEventListener("click", () => { confirm.hidden = false; });
    offer.querySelector(".merge-no").addEventListener("click", () => { confirm.hidden = true; });
    offer.querySelector(".merge-yes").addEventListener("click", async () => {
      const result = await api("POST", "/api/v1/customers/" + customerId + "/merge",
                               {from: Number(offer.dataset.from)});
      if (result.ok) window.location.reload();
      else offer.querySelector(".conflict").textContent = window.helpdesk.errorText(result);
    });
  }

  // --- in-place editing ------------------------------------------------------------

  // The card beside the customer's details (customer page): fetched again after a save.
  async function freshCard(customerId) {
    const aside = document.getElementById("customer-panel");
    const old = aside && aside.querySelector("section.card");
    if (!old || aside.querySelector(".history") || !window.helpdeskPanel) return;
    try {
      const holder = document.createElement("div");
      // Rendered and escaped by the server's panel template.
      holder.innerHTML = await (await window.helpdesk.fragment("/customers/" + customerId + "/panel")).text();
      const card = holder.querySelector("section.card");
      if (!card) return;
      old.replaceWith(card);
      window.helpdeskPanel.bindPanel(aside);
    } catch (e) { /* the details are saved; the card stays as it was */ }
  }

  function editor(field) {
    const type = field.dataset.type;
    const value = JSON.parse(field.dataset.value);
    const options = field.dataset.options ? JSON.parse(field.dataset.options) : null;
    const box = el("span", {class: "editor"});
    const input = (attrs, v) => { const i = el("input", attrs); i.value = v == null ? "" : v; return i; };
    if (type === "text") box.append(input({name: "value"}, value));
    else if (type === "textarea") {
      const t = el("textarea", {name: "value", rows: "4"}); t.value = value || ""; box.append(t);
    }
    else if (type === "list") box.append(input({name: "value"}, (value || []).join(", ")));
    else if (type === "bool") {
      const c = el("input", {type: "checkbox", name: "value"}); c.checked = !!value; box.append(c);
    } else if (type === "select") {
      const s = el("select", {name: "value"});
      options.forEach(([v, label]) => s.append(el("option", {value: v}, label)));
      s.value = value == null ? "" : String(value);
      box.append(s);
    } else if (type === "organization") {
      const i = input({name: "value", list: "org-edit-choices"}, value ? value.name : "");
      const list = el("datalist", {id: "org-edit-choices"});
      i.addEventListener("input", () => organizationChoices(i, list));
      box.append(i, list);
    } else if (type === "address") {
      ["street", "postcode", "city", "country"].forEach((k) =>
        box.append(input({name: k, placeholder: TEXT[k], "aria-label": TEXT[k]}, (value || {})[k])));
    } else if (type === "consent") {
      const c = el("input", {type: "checkbox", name: "granted"}); c.checked = !!value.granted;
      box.append(el("label", {class: "check"}), input({name: "source", placeholder: TEXT.source,
                                                        "aria-label": TEXT.source}, ""));
      box.firstChild.append(c, " " + TEXT.granted);
    } else if (type === "custom") {
      const spec = options;
      if (spec.type === "select") {
        const s = el("select", {name: "value"});
        s.append(el("option", {value: ""}, TEXT.none));
        spec.options.forEach((o) => s.append(el("option", {value: o}, o)));
        s.value = value == null ? "" : value;
        box.append(s);
      } else if (spec.type === "bool") {
        const c = el("input", {type: "checkbox", name: "value"}); c.checked = !!value; box.append(c);
      } else {
        box.append(input({name: "value", type: spec.type === "date" ? "date" : "text"}, value));
      }
    }
    return box;
  }

  // The PATCH body for one field from its editor.
  async function bodyOf(field, box) {
    const type = field.dataset.type;
    const name = field.dataset.field;
    const get = (n) => box.querySelector("[name='" + n + "']");
    if (type === "text" || type === "textarea") return {[name]: get("value").value.trim() || null};
    if (type === "list") return {[name]: splitList(get("value").value)};
    if (type === "bool") return {[name]: get("value").checked};
    if (type === "select") {
      const v = get("value").value;
      return {[name]: v === "" ? null : (/^\d+$/.test(v) ? Number(v) : v)};
    }
    if (type === "organization") return {organization: await organizationId(get("value"))};
    if (type === "address") {
      const a = {};
      ["street", "postcode", "city", "country"].forEach((k) => { a[k] = get(k).value.trim() || null; });
      return {address: a};
    }
    if (type === "consent") {
      const said = {granted: get("granted").checked};
      if (get("source").value.trim()) said.source = get("source").value.trim();
      return {consents: {[name.split(".")[1]]: said}};
    }
    const input = get("value");
    const v = input.type === "checkbox" ? input.checked : (input.value.trim() || null);
    return {custom_fields: {[name.split(".").slice(1).join(".")]: v}};
  }

  // What the field shows, from the record the API answered.
  function display(field, record) {
    const type = field.dataset.type;
    const name = field.dataset.field;
    const prefs = record.preferences || {};
    let value;
    if (name.startsWith("custom_fields.")) value = (record.custom_fields || {})[name.slice(14)];
    else if (name.startsWith("consents.")) value = record.consents[name.slice(9)];
    else if (name in prefs && !(name in record)) value = prefs[name];
    else value = record[name];
    field.dataset.value = JSON.stringify(value === undefined ? null : value);
    if (name === "account_manager" && value == null && record.account_manager_effective) {
      const found = JSON.parse(field.dataset.options || "[]")
        .find(([v]) => String(v) === String(record.account_manager_effective));
      if (found) return found[1] + TEXT.fromOrg;
    }
    if (value == null || value === "") return TEXT.none;
    if (type === "list") return value.join(", ") || TEXT.none;
    if (type === "bool" || (type === "custom" && typeof value === "boolean")) return value ? TEXT.yes : TEXT.no;
    if (type === "organization") return value.name;
    if (type === "address") {
      const town = [value.postcode, value.city].filter(Boolean).join(" ");
      return [value.street, town, value.country].filter(Boolean).join(", ") || TEXT.none;
    }
    if (type === "consent") {
      const state = value.granted ? TEXT.granted : (value.at ? TEXT.refused : TEXT.notAsked);
      return value.at ? state + " · " + value.source + ", " + day(value.at) : state;
    }
    if (type === "select" && field.dataset.options) {
      const found = JSON.parse(field.dataset.options).find(([v]) => String(v) === String(value));
      return found ? found[1] : String(value);
    }
    return String(value);
  }

  function wireFields(list) {
    const section = list.closest("section");
    const customerId = Number(list.dataset.customer || 0);
    list.querySelectorAll(".field").forEach((field) => {
      const dd = field.querySelector("dd");
      const shown = dd.querySelector(".value");
      const button = dd.querySelector(".edit-field");
      const error = dd.querySelector(".field-error");
      button.addEventListener("click", () => {
        if (field.classList.contains("editing")) return;
        field.classList.add("editing");
        const box = editor(field);
        const save = el("button", {type: "submit"}, TEXT.save);
        const cancel = el("button", {type: "button", class: "link"}, TEXT.cancel);
        const form = el("form", {class: "inline-edit"});
        form.append(box, save, cancel);
        shown.hidden = button.hidden = true;
        dd.insertBefore(form, error);
        const first = form.querySelector("input, select, textarea");
        if (first) first.focus();
        const close = () => {
          form.remove();
          field.classList.remove("editing");
          shown.hidden = button.hidden = false;
        };
        cancel.addEventListener("click", () => { error.hidden = true; close(); });
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          save.disabled = true;
          const body = await bodyOf(field, box);
          const result = await api("PATCH", list.dataset.patch, body);
          save.disabled = false;
          if (result.ok) {
            error.hidden = true;
            list.querySelectorAll(".field").forEach((f) => {
              f.querySelector(".value").textContent = display(f, result.data);
            });
            close();
            if (customerId) freshCard(customerId);
            return;
          }
          if (result.status === 409 && customerId && await offerMerge(section, body, customerId)) {
            error.textContent = section.querySelector(".merge-offer .conflict").textContent;
            error.hidden = false;
            return;
          }
          showErrors(field, result, error);
        });
      });
    });
    if (customerId) wireMerge(section, customerId);
  }

  // --- the forms of a new customer or organization ---------------------------------

  async function formBody(form) {
    const body = {};
    for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      const name = input.name;
      if (name === "consent_source") continue;
      const raw = input.type === "checkbox" ? input.checked : input.value.trim();
      if (name.startsWith("consents.")) {
        if (raw) {
          body.consents = body.consents || {};
          body.consents[name.slice(9)] = {granted: true};
          const source = form.querySelector("[name=consent_source]").value.trim();
          if (source) body.consents[name.slice(9)].source = source;
        }
      } else if (name.includes(".")) {
        const [group, key] = [name.slice(0, name.indexOf(".")), name.slice(name.indexOf(".") + 1)];
        if (raw === "" || raw === false) continue;
        body[group] = body[group] || {};
        body[group][key] = raw;
      } else if (input.hasAttribute("data-list")) {
        if (raw) body[name] = splitList(raw);
      } else if (input.hasAttribute("data-organization")) {
        const id = await organizationId(input);
        if (id !== null) body.organization = id;
      } else if (name === "account_manager") {
        if (raw) body[name] = Number(raw);
      } else if (raw !== "") {
        body[name] = raw;
      }
    }
    return body;
  }

  function wireNewForm(form) {
    const orgInput = form.querySelector("[data-organization]");
    if (orgInput) {
      const list = document.getElementById(orgInput.getAttribute("list"));
      orgInput.addEventListener("input", () => organizationChoices(orgInput, list));
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const problem = form.querySelector(".form-error");
      problem.hidden = true;
      const body = await formBody(form);
      const result = await api("POST", form.dataset.post, body);
      if (result.ok) {
        window.location.assign(form.dataset.created.replace(/\/0(?=$|\?)/, "/" + result.data.id));
        return;
      }
      if (result.status === 409 && await offerMerge(form, body, 0)) {
        showErrors(form, result, null);
        return;
      }
      showErrors(form, result, problem);
    });
  }

  document.querySelectorAll("dl.fields[data-patch]").forEach(wireFields);
  document.querySelectorAll("form.record-form").forEach(wireNewForm);
  window.helpdeskCrm = {display};
})();
