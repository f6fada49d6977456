// The duplicates screen: for each pair, what a merge would move (shown before it runs,
// from the counts the page carries), then the merge (POST /api/v1/customers/ID/merge
// with the chosen winning values) or "not a duplicate". Strings come from the page.
(function () {
  "use strict";
  const {api, errorText} = window.helpdesk;
  const strings = document.getElementById("duplicate-strings");
  if (!strings) return;
  const kinds = JSON.parse(strings.dataset.kinds);

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
  }

  // Which side is kept ("into") and which goes ("from").
  function sides(pair) {
    const keep = pair.querySelector('input[name^="keep-"]:checked').value;
    const other = keep === "left" ? "right" : "left";
    const id = (side) => Number(side === "left" ? pair.dataset.a : pair.dataset.b);
    const name = (side) => pair.dataset[side + "Name"];
    return {keep, other, into: id(keep), from: id(other), intoName: name(keep), fromName: name(other)};
  }

  function preview(pair) {
    const s = sides(pair);
    const parts = Object.entries(kinds).map(([kind, [one, many]]) => {
      const n = Number(pair.dataset[s.other + kind.charAt(0).toUpperCase() + kind.slice(1)] || 0);
      return n ? n + " " + (n === 1 ? one : many) : null;
    }).filter(Boolean);
    const values = {counts: parts.join(", "), from: s.fromName, into: s.intoName};
    pair.querySelector(".merge-preview").textContent =
      fill(parts.length ? strings.dataset.moves : strings.dataset.nothing, values);
  }

  // {"name": "into"|"from", ...} from the value radios.
  function keepValues(pair, s) {
    const keep = {};
    pair.querySelectorAll("tr[data-field]").forEach((row) => {
      const chosen = row.querySelector("input:checked");
      if (chosen) keep[row.dataset.field] = chosen.value === s.keep ? "into" : "from";
    });
    return keep;
  }

  function done(pair, text, href, name) {
    const note = document.createElement("p");
    note.className = "done";
    if (href) {
      const [before, after] = text.split("{name}");
      const link = document.createElement("a");
      link.href = href;
      link.textContent = name;
      note.append(before, link, after);
    } else {
      note.textContent = text;
    }
    pair.replaceChildren(note);
    pair.classList.add("resolved");
  }

  async function act(pair, action, button) {
    const error = pair.querySelector(".form-error");
    error.hidden = true;
    button.disabled = true;
    const s = sides(pair);
    const result = action === "merge"
      ? await api("POST", "/api/v1/customers/" + s.into + "/merge",
                  {from: s.from, keep: keepValues(pair, s)})
      : await api("POST", "/api/v1/customers/duplicates/dismiss",
                  {a: Number(pair.dataset.a), b: Number(pair.dataset.b)});
    button.disabled = false;
    if (!result.ok) {
      error.textContent = errorText(result);
      error.hidden = false;
      return;
    }
    if (action === "merge") {
      done(pair, strings.dataset.merged, "/customers/" + s.into,
           (result.data && result.data.name) || s.intoName);
    } else {
      done(pair, strings.dataset.dismissed);
    }
  }

  document.querySelectorAll(".duplicate-pair").forEach((pair) => {
    preview(pair);
    pair.addEventListener("change", () => preview(pair));
    pair.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) act(pair, button.dataset.action, button);
    });
  });
})();
