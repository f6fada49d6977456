// Erasing a customer (admins): the button opens only once the name is typed as shown;
// then DELETE /api/v1/customers/ID, and on to the page that says it is done.
(function () {
  "use strict";
  const form = document.getElementById("erase-form");
  if (!form) return;
  const {api, errorText} = window.helpdesk;
  const input = form.querySelector('input[name="confirm"]');
  const button = form.querySelector("button[type=submit]");
  const error = form.querySelector(".form-error");
  const wanted = (form.dataset.confirm || "").trim().toLowerCase();
  const matches = () => input.value.trim().toLowerCase() === wanted;

  input.addEventListener("input", () => { button.disabled = !matches(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!matches()) return;
    button.disabled = true;
    error.hidden = true;
    const result = await api("DELETE", "/api/v1/customers/" + form.dataset.customer);
    if (result.ok) {
      window.location.assign(form.dataset.done);
      return;
    }
    error.textContent = errorText(result);
    error.hidden = false;
    button.disabled = false;
  });
})();
