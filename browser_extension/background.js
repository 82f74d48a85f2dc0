// offgate service worker (a background script in Firefox). It keeps one port to the native
// host, dev.offgate.native_host, and sends it every copy the pages' taps make. Every copy is
// kept here until the host acknowledges it, which the host does only once the copy is durable:
// a copy is sent again when the port reopens after the host went away (not installed,
// restarting, killed), and after an error the host marks retryable (it cannot record right
// now), once a growing delay has passed. The host stores a call once however often it comes
// (the message id becomes the event's). What is kept is bounded by count and size; past
// either, the oldest copy is dropped and counted (the popup shows it).
"use strict";

const api = globalThis.browser ?? globalThis.chrome;
const HOST = "dev.offgate.native_host";
const MAX_KEPT = 500;
const MAX_KEPT_CHARS = 50_000_000;
const FIRST_RETRY_MS = 1000;
// Chromium stops a service worker idle for 30 s, and with it what it keeps here: retrying
// within that keeps it awake while copies wait.
const LAST_RETRY_MS = 25_000;
const QUESTION_TIMEOUT_MS = 5000;
// The policy's coaching rules are asked for when the host says hello and again when older.
const COACHING_REFRESH_MS = 10 * 60 * 1000;
const MAX_ANSWERS_KEPT = 100;

const state = {
  port: null,
  connected: false, // the host answered our hello
  kept: new Map(), // id -> {message, size, sent}: every copy not yet acknowledged, oldest first
  keptChars: 0,
  questions: new Map(), // id -> resolve, for "today" and "coaching"
  coaching: null, // {rules: Map app -> rule, at}: the host's last answer, validated
  coachAnswers: [], // {app, shown}: what the last pages that asked were told (tests read it)
  retryMs: FIRST_RETRY_MS, // reopening the port
  retryTimer: null,
  holdMs: FIRST_RETRY_MS, // after a retryable error: nothing is sent until the hold ends
  holdTimer: null,
  recorded: 0,
  dropped: 0,
  refused: 0,
  lastError: null,
};

function newId() {
  return crypto.randomUUID().replaceAll("-", "");
}

function keep(message, size) {
  state.kept.set(message.id, { message, size, sent: false });
  state.keptChars += size;
  while (state.kept.size > MAX_KEPT || state.keptChars > MAX_KEPT_CHARS) {
    forget(state.kept.keys().next().value);
    state.dropped += 1;
  }
}

function forget(id) {
  const entry = state.kept.get(id);
  if (!entry) return;
  state.kept.delete(id);
  state.keptChars -= entry.size;
}

function connect() {
  if (state.port) return;
  clearTimeout(state.retryTimer);
  state.retryTimer = null;
  let port;
  try {
    port = api.runtime.connectNative(HOST);
  } catch (error) {
    hostAway(String(error));
    return;
  }
  state.port = port;
  port.onMessage.addListener(onReply);
  port.onDisconnect.addListener((closed) => {
    const error = (closed && closed.error) || api.runtime.lastError;
    if (state.port === port) hostAway(error ? error.message : "the host closed the connection");
  });
  post({ type: "hello", id: newId(), extension_version: api.runtime.getManifest().version });
}

function hostAway(reason) {
  state.port = null;
  state.connected = false;
  state.lastError = reason;
  // What the host did not acknowledge goes to the next one.
  for (const entry of state.kept.values()) entry.sent = false;
  for (const resolve of state.questions.values()) resolve(null);
  state.questions.clear();
  // With nothing kept, the worker may sleep: the next copy or status question reopens the port.
  if (state.retryTimer === null && state.kept.size > 0) {
    state.retryTimer = setTimeout(() => {
      state.retryTimer = null;
      connect();
    }, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, LAST_RETRY_MS);
  }
}

// The host cannot record for now: copies wait, then all that are unacknowledged go again.
function hold() {
  if (state.holdTimer !== null) return;
  state.holdTimer = setTimeout(() => {
    state.holdTimer = null;
    flush();
  }, state.holdMs);
  state.holdMs = Math.min(state.holdMs * 2, LAST_RETRY_MS);
}

function post(message) {
  try {
    state.port.postMessage(message);
    return true;
  } catch (error) {
    hostAway(String(error));
    return false;
  }
}

function flush() {
  if (!state.port || !state.connected || state.holdTimer !== null) return;
  for (const entry of state.kept.values()) {
    if (entry.sent) continue;
    entry.sent = true;
    if (!post(entry.message)) return;
  }
}

function onReply(reply) {
  if (reply.type === "hello") {
    state.connected = true;
    state.retryMs = FIRST_RETRY_MS;
    flush();
    refreshCoaching();
    return;
  }
  const question = state.questions.get(reply.id);
  if (question) {
    state.questions.delete(reply.id);
    question(reply.type === "error" ? null : reply);
    return;
  }
  if (reply.type === "ack") {
    forget(reply.id);
    state.recorded += reply.event_ids.length;
    state.holdMs = FIRST_RETRY_MS;
  } else if (reply.type === "error") {
    state.lastError = `${reply.error}: ${reply.message}`;
    const entry = state.kept.get(reply.id);
    if (entry && reply.retryable) {
      entry.sent = false;
      hold();
    } else {
      forget(reply.id);
      state.refused += 1;
    }
  }
}

// The page a copy comes from, as the browser names it (the page itself is not asked).
function capture(message, pageUrl) {
  message.page_origin = new URL(pageUrl).origin;
  keep(message, (message.request_body || "").length + (message.response_body || "").length + 1000);
  connect();
  flush();
}

// The host's answer to a question (of `type`), or null if it has none in time.
function ask(type, fields) {
  if (!state.port) return Promise.resolve(null);
  const id = newId();
  return new Promise((resolve) => {
    state.questions.set(id, (reply) => resolve(reply && reply.type === type ? reply : null));
    setTimeout(() => {
      if (state.questions.delete(id)) resolve(null);
    }, QUESTION_TIMEOUT_MS);
    post({ type, id, ...fields });
  });
}

// Web-app calls recorded since local midnight, as the host counts them, or null.
function askToday() {
  const since = new Date();
  since.setHours(0, 0, 0, 0);
  return ask("today", { since: since.toISOString() });
}

const isText = (value, max) => typeof value === "string" && value.length > 0 && value.length <= max;

// A rule as the host sent it, or null: only what the notice needs, checked before any page sees it.
function validRule(rule) {
  if (rule === null || typeof rule !== "object") return null;
  const { app, action, message } = rule;
  const alternative = rule.alternative_url ?? null;
  if (!isText(app, 64) || !isText(rule.rule, 200) || !["coach", "block"].includes(action)) return null;
  if (message !== null && !isText(message, 2000)) return null;
  if (alternative !== null && !(isText(alternative, 2048) && /^https?:\/\/[^/?#\s]+/.test(alternative))) return null;
  return { app, rule: rule.rule, action, message, alternative_url: alternative };
}

let coachingAsked = null;
// Ask the host for the coaching rules; what it sends that is not valid is left out (and said).
function refreshCoaching() {
  coachingAsked ??= ask("coaching", {}).then((reply) => {
    coachingAsked = null;
    if (!reply || !Array.isArray(reply.rules)) return;
    const rules = new Map();
    for (const sent of reply.rules) {
      const rule = validRule(sent);
      if (rule) rules.set(rule.app, rule);
      else state.lastError = "the host sent a coaching rule that is not valid; it is ignored";
    }
    state.coaching = { rules, at: Date.now() };
  });
  return coachingAsked;
}

function localDay(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

async function ruleFor(app) {
  connect();
  if (!state.coaching || Date.now() - state.coaching.at > COACHING_REFRESH_MS) await refreshCoaching();
  return state.coaching?.rules.get(app) ?? null;
}

// The rule to show on a page of `app` (in `tab`), at most once per app per (local) day, or
// null. A blocked app's tab goes to the extension's own page saying why, every time.
async function coachingFor(app, tab, pageUrl) {
  const rule = await ruleFor(app);
  if (rule && rule.action === "block") {
    await api.tabs.update(tab.id, { url: api.runtime.getURL(`blocked.html?app=${encodeURIComponent(app)}`) });
    coached(rule.app, rule.rule, "shown", pageUrl);
    answered({ app, shown: false, blocked: true });
    return null;
  }
  let shown = false;
  if (rule && rule.action === "coach") {
    const { coachedOn } = await api.storage.local.get({ coachedOn: {} });
    if (coachedOn[app] !== localDay()) {
      await api.storage.local.set({ coachedOn: { ...coachedOn, [app]: localDay() } });
      shown = true;
    }
  }
  answered({ app, shown });
  return shown ? rule : null;
}

function answered(answer) {
  state.coachAnswers.push(answer);
  if (state.coachAnswers.length > MAX_ANSWERS_KEPT) state.coachAnswers.shift();
}

// A notice shown or its link clicked: kept and sent until the host has stored it, as copies are.
function coached(app, rule, event, pageUrl) {
  const message = { type: "coached", id: newId(), app, rule, event, at: new Date().toISOString(),
    page_origin: new URL(pageUrl).origin };
  keep(message, 1000);
  connect();
  flush();
}

// What the popup shows (tests read it too).
async function currentStatus() {
  connect();
  const kept = [...state.kept.values()];
  return {
    connected: state.connected,
    holding: state.holdTimer !== null,
    queued: kept.filter((entry) => !entry.sent).length,
    inFlight: kept.filter((entry) => entry.sent).length,
    recorded: state.recorded,
    dropped: state.dropped,
    refused: state.refused,
    lastError: state.lastError,
    today: await askToday(),
  };
}

api.runtime.onMessage.addListener((request, sender, sendResponse) => {
  if (sender.id !== api.runtime.id) return false;
  if (request.kind === "capture" && sender.tab && sender.url) {
    capture(request.message, sender.url);
    return false;
  }
  if (request.kind === "coaching" && sender.tab && sender.url && typeof request.app === "string") {
    coachingFor(request.app, sender.tab, sender.url).then(sendResponse, () => sendResponse(null));
    return true;
  }
  if (request.kind === "blocked" && sender.url?.startsWith(api.runtime.getURL("blocked.html"))) {
    ruleFor(request.app).then((rule) => sendResponse(rule?.action === "block" ? rule : null), () => sendResponse(null));
    return true;
  }
  if (request.kind === "coached" && sender.tab && sender.url && ["shown", "clicked"].includes(request.event)) {
    const rule = state.coaching?.rules.get(request.app);
    if (rule) coached(rule.app, rule.rule, request.event, sender.url);
    return false;
  }
  if (request.kind === "status") {
    currentStatus().then(sendResponse);
    return true; // answered asynchronously
  }
  return false;
});

connect();
