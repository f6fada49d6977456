// The agent UI's texts in the page's language, without a build step: the server renders
// the translations the scripts need as JSON into <meta name="helpdesk-texts"> (data, not
// an inline script, so the Content-Security-Policy stays as it is). _("Text") looks a text up
// there; _("%(n)s min", {n: 5}) also fills in its %(name)s places. English pages carry
// no texts: a script's own words are the English ones.
(function () {
  "use strict";
  const holder = document.querySelector('meta[name="helpdesk-texts"]');
  let texts = {};
  try { texts = holder ? JSON.parse(holder.content) || {} : {}; } catch (e) { texts = {}; }
  window._ = function (text, vars) {
    const own = Object.prototype.hasOwnProperty.call(texts, text) && texts[text] ? texts[text] : text;
    if (!vars) return own;
    return own.replace(/%\((\w+)\)s/g, (all, key) => (key in vars ? String(vars[key]) : all));
  };
  // The page's language, for Intl's date and number formats.
  window.helpdeskLang = document.documentElement.lang || "en";
})();
