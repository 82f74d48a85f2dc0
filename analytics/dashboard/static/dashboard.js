// The dashboard page: reads the dashboard's own JSON API and the report's HTML body from
// the server that sent it (it talks to nothing else) and redraws. Plain JS, no build step.
// The view (since, by) lives in the address's fragment, so a view can be bookmarked.
"use strict";

const FEED_EVERY_MS = 3000;
const REFRESH_EVERY_MS = 30000;
const FEED_SIZE = 50;

// -- the view ------------------------------------------------------------------------------

function currentView() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  return { since: fragment.get("since") || "30d", by: fragment.get("by") || "provider" };
}

let summaryAsked = 0;

async function loadSummary() {
  const view = currentView();
  const asked = ++summaryAsked;
  await loading("Report", async () => {
    const response = await ask("/parts/summary?" + new URLSearchParams(view));
    const body = await response.text();
    if (asked !== summaryAsked) return; // a newer view was asked for meanwhile
    const summary = document.getElementById("summary");
    summary.innerHTML = body; // the server escaped every value it put in (analytics/report/render_html.py)
    summary.dataset.since = view.since;
    summary.dataset.by = view.by;
  });
}

async function loadAlerts() {
  await loading("Alerts", async () => {
    const { alerts } = await (await ask("/api/alerts")).json();
    document.getElementById("alerts").replaceChildren(...alerts.map(alertItem));
    document.getElementById("alert-count").textContent = alerts.length ? `(${count(alerts.length)})` : "";
    document.getElementById("no-alerts").hidden = alerts.length > 0;
  });
}

function alertItem(alert) {
  const item = element("li", "",
    element("span", `severity severity-${alert.severity}`, alert.severity),
    element("time", "quiet", utcTime(alert.ts)),
    element("span", "message", alert.message));
  item.dataset.alertId = alert.id;
  if (alert.occurrences > 1) item.append(element("span", "quiet", `seen ${count(alert.occurrences)} times`));
  const button = element("button", "", "Acknowledge");
  button.type = "button";
  button.addEventListener("click", () => acknowledge(alert.id, button));
  item.append(button);
  return item;
}

async function acknowledge(id, button) {
  button.disabled = true;
  await loading("Acknowledge", async () => {
    try {
      await ask(`/api/alerts/${encodeURIComponent(id)}/ack`, { method: "POST" });
    } catch (error) {
      button.disabled = false;
      throw error;
    }
  });
  await loadAlerts();
}

let feedLoaded = false;

async function loadFeed() {
  await loading("Live feed", async () => {
    const { calls } = await (await ask(`/api/calls?limit=${FEED_SIZE}`)).json();
    const body = document.querySelector("#feed tbody");
    const shown = new Set([...body.rows].map((row) => row.dataset.id));
    body.replaceChildren(...calls.map((call) => feedRow(call, feedLoaded && !shown.has(call.id))));
    feedLoaded = true;
  });
}

function feedRow(call, isNew) {
  const estimated = call.tokens_estimated ? "~" : "";
  const row = element("tr", isNew ? "new" : "",
    cell(utcTime(call.ts), "ts"),
    cell(call.classification, "classification", call.classification),
    cell(label(call.provider), "provider"),
    cell(label(call.model), "model"),
    cell(label(call.app), "app"),
    cell(label(call.process_name), "process_name"),
    cell(label(call.user), "user"),
    cell(label(call.device), "device"),
    numberCell(estimated + count(call.prompt_tokens), "prompt_tokens"),
    numberCell(estimated + count(call.completion_tokens), "completion_tokens"),
    numberCell(money(call.cost_usd), "cost_usd"));
  row.dataset.id = call.id;
  return row;
}

async function loadSeen(path, name, title) {
  await loading(title, async () => {
    const found = (await (await ask(path)).json())[name];
    document.querySelector(`table[data-table=${name}] tbody`).replaceChildren(...found.map((seen) => {
      const row = element("tr", "",
        cell(label(seen.name), "name"),
        numberCell(count(seen.calls), "calls"),
        numberCell(money(seen.cost_usd), "cost_usd"),
        cell(utcTime(seen.first_seen), "first_seen"),
        cell(utcTime(seen.last_seen), "last_seen"));
      row.dataset.key = seen.name ?? "";
      return row;
    }));
  });
}

async function refresh() {
  await Promise.all([loadSummary(), loadAlerts(), loadSeen("/api/apps", "apps", "Apps"),
    loadSeen("/api/processes", "processes", "Processes")]);
}

// Runs `task` now and then every `pause` after it finished; skipped while the page is hidden.
async function every(pause, task) {
  for (;;) {
    if (!document.hidden) await task();
    await new Promise((wake) => setTimeout(wake, pause));
  }
}

function start() {
  const form = document.getElementById("view");
  const showView = () => {
    const view = currentView();
    form.since.value = view.since;
    form.by.value = view.by;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wanted = new URLSearchParams({ since: form.since.value.trim() || "30d", by: form.by.value });
    if (location.hash.slice(1) === wanted.toString()) loadSummary();
    else location.hash = wanted; // hashchange loads it
  });
  form.by.addEventListener("change", () => form.requestSubmit());
  window.addEventListener("hashchange", () => { showView(); loadSummary(); });
  showView();
  every(REFRESH_EVERY_MS, refresh);
  every(FEED_EVERY_MS, loadFeed);
}

start();
