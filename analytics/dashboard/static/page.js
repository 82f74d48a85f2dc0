// What the dashboard's pages share: numbers and names as the report writes them, talking to
// the server that sent the page (and nothing else), showing what went wrong, building rows.
// Loaded before each page's own script. Plain JS, no build step.
"use strict";

// -- numbers and names as analytics/report/formatting.py writes them ----------------------

// toFixed rounds the exact binary value, as Python does; only exact ties (1.125) differ:
// they round up here and to even there.
function money(value) {
  if (value === null || value === undefined) return "-";
  return "$" + (Math.abs(value) >= 1 ? grouped(value.toFixed(2)) : value.toFixed(6));
}

function count(value) {
  return value === null || value === undefined ? "-" : grouped(String(value));
}

function grouped(text) {
  const [whole, fraction] = text.split(".");
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (fraction === undefined ? "" : "." + fraction);
}

function label(value) {
  return value === null || value === undefined || value === "" ? "(unknown)" : String(value);
}

function utcTime(iso) {
  return iso ? iso.slice(0, 19).replace("T", " ") : "-";
}

// -- talking to the server -----------------------------------------------------------------

const problems = new Map();

// What went wrong, per part of the page; shown until that part loads again.
function noteProblem(part, message) {
  if (message) problems.set(part, message); else problems.delete(part);
  const shown = document.getElementById("problem");
  shown.textContent = [...problems.values()].join(" ");
  shown.hidden = problems.size === 0;
}

async function ask(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    location.assign("/"); // the login page
    throw new Error("Logged out: log in again.");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error; } catch { /* not JSON: keep the status */ }
    throw new Error(message);
  }
  return response;
}

async function loading(part, work) {
  try {
    await work();
    noteProblem(part, null);
  } catch (error) {
    noteProblem(part, `${part}: ${error.message}`);
  }
}

// -- building rows -------------------------------------------------------------------------

function element(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

function cell(text, field, className = "") {
  const td = element("td", className, text);
  if (field) td.dataset.field = field;
  return td;
}

function numberCell(text, field) {
  return cell(text, field, "number");
}
