// offgate service worker (a background script in Firefox). It keeps one port to the native
// host, dev.offgate.native_host, and sends it every copy the pages' taps make. While the host
// is away (not installed, restarting) copies wait in a bounded queue, oldest dropped first,
// and the port is reopened with a growing delay; copies go out only once the host has
// answered the hello. A copy sent but not yet acknowledged goes back to the queue if the
// port closes; the host stores a call once even if it comes twice (its id is the event's).
"use strict";

const api = globalThis.browser ?? globalThis.chrome;
const HOST = "dev.offgate.native_host";
const MAX_QUEUED = 500;
const MAX_QUEUED_CHARS = 50_000_000;
const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 60_000;
const QUESTION_TIMEOUT_MS = 5000;

const state = {
  port: null,
  connected: false, // the host answered our hello
  queue: [], // [message, its size in characters]
  queuedChars: 0,
  inFlight: new Map(), // id -> [message, size], sent and not yet answered
  questions: new Map(), // id -> resolve, for "today"
  retryMs: FIRST_RETRY_MS,
  retryTimer: null,
  recorded: 0,
  dropped: 0,
  refused: 0,
  lastError: null,
};

function newId() {
  return crypto.randomUUID().replaceAll("-", "");
}

function enqueue(message, size, first = false) {
  if (first) state.queue.unshift([message, size]);
  else state.queue.push([message, size]);
  state.queuedChars += size;
  while (state.queue.length > MAX_QUEUED || state.queuedChars > MAX_QUEUED_CHARS) {
    const [, droppedSize] = state.queue.shift();
    state.queuedChars -= droppedSize;
    state.dropped += 1;
  }
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
  // Unanswered copies go back to the front of the queue, in order.
  for (const [message, size] of [...state.inFlight.values()].reverse()) enqueue(message, size, true);
  state.inFlight.clear();
  for (const resolve of state.questions.values()) resolve(null);
  state.questions.clear();
  if (state.retryTimer === null) {
    state.retryTimer = setTimeout(() => {
      state.retryTimer = null;
      connect();
    }, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, LAST_RETRY_MS);
  }
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
  while (state.port && state.connected && state.queue.length) {
    const [message, size] = state.queue.shift();
    state.queuedChars -= size;
    state.inFlight.set(message.id, [message, size]);
    if (!post(message)) return;
  }
}

function onReply(reply) {
  if (reply.type === "hello") {
    state.connected = true;
    state.retryMs = FIRST_RETRY_MS;
    flush();
    return;
  }
  if (reply.type === "today") {
    const resolve = state.questions.get(reply.id);
    state.questions.delete(reply.id);
    if (resolve) resolve(reply);
    return;
  }
  state.inFlight.delete(reply.id);
  if (reply.type === "ack") {
    state.recorded += reply.event_ids.length;
  } else if (reply.type === "error") {
    state.refused += 1;
    state.lastError = `${reply.error}: ${reply.message}`;
    const resolve = state.questions.get(reply.id);
    state.questions.delete(reply.id);
    if (resolve) resolve(null);
  }
}

// The page a copy comes from, as the browser names it (the page itself is not asked).
function capture(message, pageUrl) {
  message.page_origin = new URL(pageUrl).origin;
  enqueue(message, (message.request_body || "").length + (message.response_body || "").length + 1000);
  connect();
  flush();
}

// Web-app calls recorded since local midnight, as the host counts them, or null.
function askToday() {
  if (!state.port) return Promise.resolve(null);
  const since = new Date();
  since.setHours(0, 0, 0, 0);
  const id = newId();
  return new Promise((resolve) => {
    state.questions.set(id, resolve);
    setTimeout(() => {
      if (state.questions.delete(id)) resolve(null);
    }, QUESTION_TIMEOUT_MS);
    post({ type: "today", id, since: since.toISOString() });
  });
}

// What the popup shows (tests read it too).
async function currentStatus() {
  connect();
  return {
    connected: state.connected,
    queued: state.queue.length,
    inFlight: state.inFlight.size,
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
  if (request.kind === "status") {
    currentStatus().then(sendResponse);
    return true; // answered asynchronously
  }
  return false;
});

connect();
