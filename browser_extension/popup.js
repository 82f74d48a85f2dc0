"use strict";

const api = globalThis.browser ?? globalThis.chrome;

function usd(value) {
  return `$${(value || 0).toFixed(value >= 1 ? 2 : 4)}`;
}

function show(status) {
  const host = document.getElementById("host");
  if (!status || !status.connected) {
    host.textContent = "offgate is not running on this computer: nothing is recorded until it is "
      + `(calls waiting: ${status ? status.queued : 0}).`
      + (status && status.lastError ? ` Last error: ${status.lastError}` : "");
    host.className = "status problem";
  } else {
    host.textContent = `Recording to offgate. ${status.recorded} calls recorded since the browser started`
      + (status.dropped ? `, ${status.dropped} dropped while offgate was away` : "") + ".";
    host.className = "status ok";
  }
  const today = status && status.today;
  document.getElementById("today").textContent = today
    ? `${today.calls} calls to AI web apps, about ${usd(today.cost_usd)} at API prices (estimated).`
    : "Not available while offgate is not running.";
  const table = document.getElementById("apps");
  table.replaceChildren();
  for (const row of (today && today.by_app) || []) {
    const line = table.insertRow();
    line.insertCell().textContent = row.app;
    line.insertCell().textContent = `${row.calls} calls`;
    line.insertCell().textContent = usd(row.cost_usd);
  }
}

api.runtime.sendMessage({ kind: "status" }).then(show, () => show(null));
