// Files in the chat widget, loaded by widget.js: a paper clip that sends one file to the
// agents over the socket (the server checks its size and type), and the files of
// messages as links, images as thumbnails. Names go in with textContent, never as HTML;
// only links of our own /chat/files/ are followed.
window.hdFiles = (function () {
  "use strict";
  let origin = "";
  const CSS = ".hd-attach{border:0;background:none;padding:0 4px;color:#475569}" +
    ".hd-file{display:block;margin-top:4px;color:inherit;text-decoration:underline;overflow-wrap:anywhere}" +
    ".hd-thumb{display:block;max-width:180px;max-height:140px;border-radius:6px}";

  function show(node, m) {
    if (!origin || node.hdShown || !Array.isArray(m.attachments)) return;
    node.hdShown = true;
    for (const a of m.attachments) {
      if (!a || typeof a.url !== "string" || a.url.indexOf("/chat/files/") !== 0) continue;
      const link = document.createElement("a");
      link.className = "hd-file";
      link.href = origin + a.url;
      link.target = "_blank";
      link.rel = "noopener";
      if (a.image) {
        const img = document.createElement("img");
        img.className = "hd-thumb";
        img.src = link.href;
        img.alt = String(a.filename || "");
        link.appendChild(img);
      } else {
        link.textContent = String(a.filename || "file");
      }
      node.appendChild(link);
    }
  }

  function paperclip() {  // an inline SVG, built node by node (no emoji font needed)
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M21 11.5l-8.5 8.5a5 5 0 0 1-7-7l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-3-3l8-8");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linecap", "round");
    svg.appendChild(path);
    return svg;
  }

  function init(ui, base, send, showError, errorText) {
    origin = base;
    const style = document.createElement("style");
    style.textContent = CSS;
    ui.win.appendChild(style);
    const input = document.createElement("input");
    input.type = "file";
    input.hidden = true;
    const clip = document.createElement("button");
    clip.type = "button";
    clip.className = "hd-attach";
    clip.appendChild(paperclip());
    clip.title = "Attach a file";
    clip.setAttribute("aria-label", "Attach a file");
    ui.input.parentNode.insertBefore(clip, ui.input);
    ui.input.parentNode.appendChild(input);
    clip.addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function () {
      const file = input.files && input.files[0];
      input.value = "";
      if (!file) return;
      send({name: file.name, type: file.type, data: file}, function (answer) {
        if (answer && answer.id !== undefined && answer.id !== null) showError("");
        else showError(errorText(answer, "Your file could not be sent."));
      });
    });
    for (const node of ui.list.children) if (node.hdm) show(node, node.hdm);
  }

  return {show: show, init: init};
})();
