"use strict";

const api = globalThis.browser ?? globalThis.chrome;

function usd(value) {
  return `$${(value || 0).toFixed(value >= 1 ? 2 : 4)}`;
}

function show(status) {
  const host = document.getElementById("host");
  const dropped = status && status.dropped ? ` ${status.dropped} calls were dropped while they waited.` : "";
  const lastError = status && status.lastError ? ` Last error: ${status.lastError}` : "";
  if (!status || !status.connected) {
    host.textContent = "offgate is not running on this computer: nothing is recorded until it is "
      + `(calls waiting: ${status ? status.queued + status.inFlight : 0}).` + dropped + lastError;
    host.className = "status problem";
  } else if (status.holding) {
    host.textContent = "offgate cannot record right now; the calls wait and are sent again "
      + `(calls waiting: ${status.queued + status.inFlight}).` + dropped + lastError;
    host.className = "status problem";
  } else {
    host.textContent = `Recording to offgate. ${status.recorded} calls recorded since the browser started.`
      + dropped;
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
