// A customer's record (/customers/ID): one section shown at a time, chosen by its tab.
// Without this script every section shows, one below the other, and the tabs are links
// to them. The section in the address (#record-history) or the one marked current (a
// page of older history) opens first; otherwise the details.
(function () {
  "use strict";
  const tabs = Array.from(document.querySelectorAll(".record .tabs a[role=tab]"));
  if (!tabs.length) return;
  const panels = tabs.map(function (tab) { return document.getElementById(tab.getAttribute("aria-controls")); });

  function show(id, focus) {
    tabs.forEach(function (tab, i) {
      const on = tab.getAttribute("aria-controls") === id;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (panels[i]) panels[i].hidden = !on;
      if (on && focus) tab.focus();
    });
  }

  function choose(tab, focus) {  // and remember it in the address, for a reload or a link
    show(tab.getAttribute("aria-controls"), focus);
    history.replaceState(null, "", "#" + tab.getAttribute("aria-controls"));
  }

  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function (event) {
      event.preventDefault();
      choose(tab);
    });
    tab.addEventListener("keydown", function (event) {  // arrows move along the tabs
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      choose(tabs[(i + step + tabs.length) % tabs.length], true);
    });
  });

  window.addEventListener("hashchange", function () {  // a link to a section of this page
    const id = location.hash.slice(1);
    if (panels.some(function (p) { return p && p.id === id; })) show(id);
  });

  const wanted = location.hash.slice(1);
  const current = document.querySelector(".record-section[data-current]");
  const first = panels.some(function (p) { return p && p.id === wanted; }) ? wanted
    : current ? current.id : panels[0].id;
  show(first);
})();
