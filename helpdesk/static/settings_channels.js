// The channel settings screens: the mailbox form's live "Test connection" (POSTs the
// form, CSRF token included, and shows what the IMAP and SMTP servers answered) and the
// chat widget's "Copy" button for the embed snippet. Every text comes from the page
// (data-* attributes, already translated) and is set with textContent.
(function () {
  "use strict";

  function showResults(box, results) {
    box.textContent = "";
    for (const kind of ["imap", "smtp"]) {
      const result = results[kind];
      if (!result) continue;
      const line = document.createElement("p");
      line.className = "check-result " + (result.ok ? "ok" : "failed");
      line.dataset.kind = kind;
      const head = document.createElement("strong");
      head.textContent = box.dataset[kind] + ": " + (result.ok ? box.dataset.ok : box.dataset.failed);
      line.append(head, " " + result.detail);
      box.appendChild(line);
    }
  }

  function testConnection(button) {
    const form = button.closest("form");
    const box = form.querySelector("#connection-test");
    box.textContent = box.dataset.testing;
    button.disabled = true;
    fetch(box.dataset.url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: {"Accept": "application/json"},
    })
      .then(function (response) {
        return response.json().then(function (body) { return {status: response.status, body: body}; });
      })
      .then(function (answer) {
        if (answer.body.error) {
          box.textContent = answer.body.error.message;
          box.className = "connection-test failed";
        } else {
          box.className = "connection-test";
          showResults(box, answer.body);
        }
      })
      .catch(function () { box.textContent = box.dataset.unreachable; })
      .finally(function () { button.disabled = false; });
  }

  function copy(button) {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const done = function () { button.textContent = button.dataset.copied; };
    source.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () {
        if (document.execCommand("copy")) done();
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  }

  document.addEventListener("click", function (event) {
    const tester = event.target.closest("[data-test-connection]");
    if (tester) testConnection(tester);
    const copier = event.target.closest("[data-copy]");
    if (copier) copy(copier);
  });
})();
