// What the extension shows, read from offgate's local dashboard API: no VS Code here, so the
// logic runs (and is tested) under plain node. The API: analytics/dashboard/api.py.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");

const TOKEN_FILE = "dashboard-token";
const CALLS_SHOWN = 20;

/** offgate's data directory, as offgate.config.resolve_home finds it (platformdirs' user_data_dir). */
function offgateHome(configured, env = process.env, platform = process.platform, homedir = os.homedir()) {
  if (configured) return configured;
  if (env.OFFGATE_HOME) return env.OFFGATE_HOME;
  if (platform === "darwin") return path.join(homedir, "Library", "Application Support", "offgate");
  if (platform === "win32") {
    return path.join(env.LOCALAPPDATA || path.join(homedir, "AppData", "Local"), "offgate", "offgate");
  }
  return path.join(env.XDG_DATA_HOME || path.join(homedir, ".local", "share"), "offgate");
}

/** The dashboard's token, kept in <home>/dashboard-token by offgate (mode 0600). */
function readToken(home) {
  const file = path.join(home, TOKEN_FILE);
  let text;
  try {
    text = fs.readFileSync(file, "ascii").trim();
  } catch (error) {
    throw new DashboardProblem(`no dashboard token at ${file}: start offgate (offgate up) once`, "no token");
  }
  if (!/^[A-Za-z0-9_-]{16,}$/.test(text)) {
    throw new DashboardProblem(`${file} does not hold a dashboard token`, "no token");
  }
  return text;
}

class DashboardProblem extends Error {
  constructor(message, short) {
    super(message);
    this.short = short;
  }
}

/** GET a dashboard API path with the token; the JSON, or a DashboardProblem saying why not. */
async function getJson(baseUrl, token, apiPath, fetchImpl = fetch) {
  let response;
  try {
    response = await fetchImpl(new URL(apiPath, baseUrl).toString(), {
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
  } catch (error) {
    throw new DashboardProblem(`the dashboard at ${baseUrl} is not reachable: start offgate (offgate up)`,
      "not running");
  }
  if (response.status === 401) {
    throw new DashboardProblem(`the dashboard at ${baseUrl} refused the token in its home`, "token refused");
  }
  if (!response.ok) {
    throw new DashboardProblem(`the dashboard at ${baseUrl} answered ${response.status} for ${apiPath}`,
      `error ${response.status}`);
  }
  return response.json();
}

/** Midnight UTC of `now`'s day: "today" as offgate's report counts days. */
function startOfToday(now) {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())).toISOString();
}

/** Today's figures from /api/summary's totals. */
function todayFigures(report) {
  const totals = report.totals;
  const calls = totals.managed_calls + totals.unmanaged_calls;
  const spend = totals.total_cost_usd;
  const unmanagedShare = spend > 0 ? totals.unmanaged_cost_usd / spend : null;
  return { calls, spend, unmanagedSpend: totals.unmanaged_cost_usd, unmanagedShare };
}

function usd(amount) {
  return amount >= 100 ? `$${Math.round(amount).toLocaleString("en-US")}` : `$${amount.toFixed(2)}`;
}

function percent(share) {
  return share === null ? "-" : `${Math.round(share * 100)}%`;
}

function statusText(figures) {
  const calls = `${figures.calls.toLocaleString("en-US")} call${figures.calls === 1 ? "" : "s"}`;
  return `$(pulse) ${calls} · ${usd(figures.spend)} · ${percent(figures.unmanagedShare)} unmanaged`;
}

function statusTooltip(figures) {
  return `offgate today (UTC): ${figures.calls.toLocaleString("en-US")} LLM calls, ${usd(figures.spend)}, ` +
    `of which ${usd(figures.unmanagedSpend)} went around the gateway (${percent(figures.unmanagedShare)}). ` +
    "Click for recent calls and open alerts.";
}

/** Everything the status bar and the panel show, in one read. */
async function readDashboard(baseUrl, token, now = new Date(), fetchImpl = fetch) {
  const since = encodeURIComponent(startOfToday(now));
  const [report, calls, alerts] = await Promise.all([
    getJson(baseUrl, token, `/api/summary?since=${since}`, fetchImpl),
    getJson(baseUrl, token, `/api/calls?limit=${CALLS_SHOWN}`, fetchImpl),
    getJson(baseUrl, token, "/api/alerts", fetchImpl),
  ]);
  return { figures: todayFigures(report), calls: calls.calls, alerts: alerts.alerts };
}

function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "'": "&#39;" })[c]);
}

function tokens(call) {
  if (call.prompt_tokens === null && call.completion_tokens === null) return "-";
  const total = (call.prompt_tokens || 0) + (call.completion_tokens || 0);
  return `${total.toLocaleString("en-US")}${call.tokens_estimated ? " (est.)" : ""}`;
}

/** The panel's page: static HTML (no script), so its policy allows none. */
function panelHtml(state) {
  const { figures, calls, alerts } = state;
  const callRows = calls.map((call) => `<tr data-call="${escapeHtml(call.id)}"><td>${escapeHtml(call.ts.slice(0, 19))}</td>` +
    `<td>${escapeHtml(call.app || call.process_name || "-")}</td><td>${escapeHtml(call.provider || "-")}</td>` +
    `<td>${escapeHtml(call.model || "-")}</td><td>${tokens(call)}</td>` +
    `<td>${call.cost_usd === null ? "-" : usd(call.cost_usd)}</td><td>${escapeHtml(call.classification || call.route)}</td></tr>`);
  const alertItems = alerts.map((alert) => `<li class="${escapeHtml(alert.severity)}" data-alert="${escapeHtml(alert.id)}">` +
    `<b>${escapeHtml(alert.severity)}</b> ${escapeHtml(alert.message)}</li>`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>offgate</title>
<style>body{font-family:var(--vscode-font-family);font-size:var(--vscode-font-size)}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left}li.critical b{color:var(--vscode-errorForeground)}</style>
</head><body>
<h2>Today</h2>
<p id="today">${escapeHtml(statusText(figures).replace("$(pulse) ", ""))}</p>
<h2>Open alerts (${alerts.length})</h2>
${alerts.length ? `<ul id="alerts">${alertItems.join("")}</ul>` : '<p id="alerts">No open alerts.</p>'}
<h2>Recent calls</h2>
${calls.length ? `<table id="calls"><tr><th>time (UTC)</th><th>app</th><th>provider</th><th>model</th><th>tokens</th>` +
    `<th>cost</th><th>route</th></tr>${callRows.join("")}</table>` : '<p id="calls">No calls yet.</p>'}
</body></html>`;
}

module.exports = {
  DashboardProblem, offgateHome, readToken, getJson, startOfToday, todayFigures, statusText, statusTooltip,
  readDashboard, panelHtml, escapeHtml,
};
