// The report page: draws the charts (Chart.js, static/vendor/chart.umd.js) from the
// figures the server put on #report (data-report), and when the range or a filter
// changes fetches the report body again from /reports/body (rendered by the same
// template as the page: figures, tables, download links), swaps it in and redraws.
// Visible strings come from the page (#report-body's data-strings), none from here.
(function () {
  "use strict";
  const {fragment} = window.helpdesk;
  const holder = document.getElementById("report-body");
  const form = document.getElementById("report-filters");
  if (!holder || !form || !window.Chart) return;
  const strings = JSON.parse(holder.dataset.strings);
  // Colours tell the series apart, and so do the line styles and point shapes: a chart
  // reads without colour (and its numbers are in the table below it).
  const COLOURS = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2"];
  const POINTS = ["circle", "rect", "triangle", "rectRot", "crossRot", "star"];
  let charts = [];
  let request = 0;

  function canvas(name) {
    return holder.querySelector('canvas[data-chart="' + name + '"]');
  }

  function make(name, config) {
    const target = canvas(name);
    if (!target) return;
    config.options = Object.assign({responsive: true, maintainAspectRatio: false,
                                    animation: false}, config.options || {});
    charts.push(new window.Chart(target, config));
  }

  function draw() {
    charts.forEach((chart) => chart.destroy());
    charts = [];
    const report = JSON.parse(document.getElementById("report").dataset.report);
    const days = report.by_day.map((day) => day.date);
    const datasets = [];
    Object.keys(report.by_day_channel).forEach((channel, n) => {
      const colour = COLOURS[n % COLOURS.length];
      const series = report.by_day_channel[channel];
      datasets.push({type: "bar", label: channel + " · " + strings.created, data: series.created,
                     backgroundColor: colour, stack: "created"});
      datasets.push({type: "line", label: channel + " · " + strings.solved, data: series.solved,
                     borderColor: colour, borderDash: [6, 3], pointStyle: POINTS[n % POINTS.length],
                     pointRadius: 4, fill: false});
    });
    make("channels", {data: {labels: days, datasets},
                      options: {scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}}});
    make("backlog", {type: "line", data: {labels: days, datasets: [
      {label: strings.backlog, data: report.by_day.map((day) => day.backlog),
       borderColor: COLOURS[0], pointStyle: "rect", fill: false}]},
      options: {scales: {y: {beginAtZero: true}}}});
    const first = report.first_response_minutes, done = report.resolution_minutes;
    make("times", {type: "bar", data: {labels: [strings.first_response, strings.resolution],
      datasets: [
        {label: strings.median, data: [first.median, done.median], backgroundColor: COLOURS[0]},
        {label: strings.p90, data: [first.p90, done.p90], backgroundColor: COLOURS[1],
         borderColor: "#000", borderWidth: 2}]},
      options: {scales: {y: {beginAtZero: true, title: {display: true, text: strings.minutes}}}}});
    const targets = Object.keys(report.sla_by_target);
    make("sla", {type: "bar", data: {labels: targets.map((t) => strings[t]), datasets: [
      {label: strings.met, data: targets.map((t) => report.sla_by_target[t].met),
       backgroundColor: COLOURS[2]},
      {label: strings.breached, data: targets.map((t) => report.sla_by_target[t].breached),
       backgroundColor: COLOURS[4], borderColor: "#000", borderWidth: 2}]},
      options: {indexAxis: "y", scales: {x: {stacked: true, beginAtZero: true},
                                         y: {stacked: true}}}});
    document.getElementById("report").dataset.drawn = String(charts.length);
  }

  function query() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (value !== "") params.set(key, value);
    }
    if (params.get("preset")) { params.delete("from"); params.delete("to"); }
    return params;
  }

  async function reload() {
    const mine = ++request;
    const params = query();
    holder.setAttribute("aria-busy", "true");
    try {
      const response = await fragment("/reports/body?" + params);
      const html = await response.text();
      if (mine !== request) return;  // a newer choice is on its way
      holder.innerHTML = html;
      const range = document.getElementById("report").dataset.range.split("/");
      form.elements.from.value = range[0];
      form.elements.to.value = range[1];
      history.replaceState(null, "", "/reports?" + params);
      draw();
    } finally {
      holder.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "from" || event.target.name === "to") {
      const own = form.querySelector('input[name="preset"][value=""]');
      if (own) own.checked = true;
    }
    reload();
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); reload(); });
  const mail = document.getElementById("weekly-mail");
  if (mail) {
    mail.addEventListener("change", async () => {
      const result = await window.helpdesk.api("PUT", "/api/v1/reports/weekly-mail",
                                               {weekly: mail.checked});
      if (result.ok) mail.checked = result.data.weekly;
    });
  }
  draw();
})();
