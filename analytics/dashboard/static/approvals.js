// The approvals page: lists the requests the gateway held and sends the approvers' decisions,
// each with the session's CSRF header (the cookie alone decides nothing: auth.py).
"use strict";

let csrf = "";

function who(request) {
  return label(request.user) + (request.team ? ` (${request.team})` : "");
}

async function loadRequests() {
  await loading("Approvals", async () => {
    const found = await (await ask("/api/approvals")).json();
    document.getElementById("decider").textContent = found.may_decide
      ? `You decide as ${found.approver}.`
      : `You decide as ${found.approver}, who is not among the policy's approvers (${found.approvers.join(", ")}).`;
    const pending = found.requests.filter((request) => request.status === "pending");
    const decided = found.requests.filter((request) => request.status !== "pending");
    document.querySelector("#pending tbody").replaceChildren(...pending.map(pendingRow));
    document.querySelector("#recent tbody").replaceChildren(...decided.map(decidedRow));
    document.getElementById("pending-count").textContent = pending.length ? `(${count(pending.length)})` : "";
    document.getElementById("none-pending").hidden = pending.length > 0;
  });
}

function pendingRow(request) {
  const row = element("tr", "",
    cell(request.id, "id"), cell(who(request), "user"), cell(request.rule, "rule"), cell(label(request.model), "model"),
    numberCell(money(request.estimated_cost_usd), "estimated_cost_usd"), cell(utcTime(request.requested_at), "requested_at"),
    numberCell(count(request.times_requested), "times_requested"), cell(request.reason, "reason"),
    element("td", "decision", decisionForm(request)));
  row.dataset.id = request.id;
  return row;
}

function decidedRow(request) {
  const status = request.status === "approved" && !request.in_force ? "approved (expired)" : request.status;
  const row = element("tr", "",
    cell(request.id, "id"), cell(status, "status", request.status), cell(who(request), "user"),
    cell(request.rule, "rule"), cell(label(request.model), "model"),
    numberCell(money(request.estimated_cost_usd), "estimated_cost_usd"), cell(utcTime(request.requested_at), "requested_at"),
    cell(label(request.decided_by), "decided_by"), cell(utcTime(request.decided_at), "decided_at"),
    cell(utcTime(request.expires_at), "expires_at"), numberCell(money(request.amount_usd), "amount_usd"),
    cell(request.note ?? "", "note"));
  row.dataset.id = request.id;
  row.dataset.status = request.status;
  return row;
}

function field(name, title, attributes) {
  const input = element("input", "");
  Object.assign(input, { name, title, ...attributes });
  input.setAttribute("aria-label", title);
  return input;
}

function decisionForm(request) {
  const duration = field("for", "How long the approval lasts: 30m, 24h, 7d", { value: "24h", size: 5 });
  const amount = field("amount", "USD: the most a call may cost, or how far past the budget spend may go (optional)",
    { type: "number", min: "0", step: "any", placeholder: "up to $", size: 7 });
  const reason = field("reason", "Why, for the audit and the requester (optional)", { placeholder: "why", size: 16 });
  const approve = element("button", "", "Approve");
  const deny = element("button", "", "Deny");
  approve.type = deny.type = "button";
  const buttons = [approve, deny];
  approve.addEventListener("click", () => decide(request.id, "approve", {
    for: duration.value.trim() || "24h",
    amount: amount.value === "" ? null : Number(amount.value),
    reason: reason.value.trim() || null,
  }, buttons));
  deny.addEventListener("click", () => decide(request.id, "deny", { reason: reason.value.trim() || null }, buttons));
  return element("span", "decide", duration, amount, reason, approve, deny);
}

async function decide(id, action, body, buttons) {
  buttons.forEach((button) => { button.disabled = true; });
  const shown = document.getElementById("decided");
  shown.hidden = true;
  await loading("Decision", async () => {
    try {
      const response = await ask(`/api/approvals/${encodeURIComponent(id)}/${action}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Offgate-CSRF": csrf },
        body: JSON.stringify(body),
      });
      const decided = await response.json();
      shown.textContent = `${decided.status} ${decided.id} (rule ${decided.rule}, ${who(decided)}) by ${decided.decided_by}`
        + (decided.expires_at ? ` until ${utcTime(decided.expires_at)} UTC` : "")
        + (decided.amount_usd !== null ? `, up to ${money(decided.amount_usd)}` : "")
        + (decided.note ? `: ${decided.note}` : "");
      shown.hidden = false;
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });
  await loadRequests();
}

async function start() {
  await loading("Session", async () => {
    csrf = (await (await ask("/api/session")).json()).csrf ?? "";
  });
  await loadRequests();
}

start();
