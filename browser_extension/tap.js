// offgate page tap. Runs in the page's own JavaScript world (MAIN) before the page's scripts,
// on the AI web apps only. It wraps fetch, XMLHttpRequest, EventSource and WebSocket; for a
// request that generated/targets.js lists, it reads a COPY of the request and response as they
// pass (response.clone(), listeners added beside the page's) and hands the copy to bridge.js
// when the response has ended. The page's own request, response and timing are never changed:
// every error here is swallowed, and nothing is awaited before the page gets its result.
//
// The copies go to the bridge over a MessagePort no page script can reach, not over a DOM event
// any script could dispatch. The bridge offers the port once, in a synchronous DOM event, while
// both run at document_start, before the page has any script: the tap keeps the first port
// offered in this closure and ignores every later offer, and posts through postMessage bound to
// that port now, so a page that later replaces MessagePort.prototype.postMessage, or
// Function.prototype.call, never sees the port. The settings come back over the same port.
// Not covered: the page shares this JavaScript world, so a page script can still replace other
// built-ins the tap calls while it reads a copy (URL, promises, streams, TextDecoder) and so
// change what is read of a call; the store never lets an extension record displace the
// proxy's record of a call. Code that runs before the tap (another extension's MAIN-world
// script) could wrap fetch first.
(() => {
  "use strict";

  const PORT_EVENT = "offgate:port"; // bridge -> tap, once: the port to the bridge
  // The host takes 16 MiB per message; a UTF-8 character needs at most 3 bytes (or 6 when
  // JSON escapes a control character), so 1 + 4 million characters always fit.
  const MAX_REQUEST_CHARS = 1_000_000;
  const MAX_RESPONSE_CHARS = 4_000_000;
  const WEBSOCKET_FLUSH_MS = 1000;
  const WEBSOCKET_BATCH_MESSAGES = 200;

  // The page may replace these later; keep the originals.
  const nativeFetch = window.fetch;
  const nativeListen = EventTarget.prototype.addEventListener;
  const nativePost = MessagePort.prototype.postMessage;
  const stringify = JSON.stringify;
  const later = window.setTimeout.bind(window);

  // Until the bridge has sent the settings, capture is on (they are checked again there).
  let settings = { enabled: true, disabledApps: [] };
  let toBridge = null; // postMessage bound to the bridge's port
  nativeListen.call(document, PORT_EVENT, (event) => {
    if (toBridge !== null || !(event instanceof MessageEvent) || event.ports.length !== 1) return;
    const port = event.ports[0];
    toBridge = nativePost.bind(port);
    port.onmessage = (message) => {
      settings = message.data;
    };
    event.preventDefault(); // tells the bridge the offer was taken
  });

  const targets = OFFGATE_TARGETS.map((target) => ({
    app: target.app,
    host: target.host,
    http: target.http_paths.map((path) => new RegExp(path)),
    websocket: target.websocket_paths.map((path) => new RegExp(path)),
  }));

  // {url (absolute), app} if the catalog reads this URL and its app is being recorded, else null.
  function tapped(url, websocket) {
    if (!settings.enabled) return null;
    let parsed;
    try {
      parsed = new URL(url, location.href);
    } catch {
      return null;
    }
    const host = parsed.hostname.toLowerCase();
    for (const target of targets) {
      const hostMatches = target.host.startsWith("*.") ? host.endsWith(target.host.slice(1)) : host === target.host;
      if (hostMatches && (websocket ? target.websocket : target.http).some((path) => path.test(parsed.pathname))) {
        return settings.disabledApps.includes(target.app) ? null : { url: parsed.href, app: target.app };
      }
    }
    return null;
  }

  function newId() {
    return crypto.randomUUID().replaceAll("-", "");
  }

  // Later, as a task of its own: the page's own continuations (its `await response.text()`)
  // run first, and the copy's serialising and hand-over never sit in their way.
  function send(app, message) {
    later(() => {
      try {
        if (toBridge !== null) toBridge(stringify({ app, message }));
      } catch {
        // the copy is lost, the page is not
      }
    }, 0);
  }

  // Text kept up to a limit; past it the copy is marked truncated and reads no further.
  class BoundedText {
    constructor(limit) {
      this.limit = limit;
      this.parts = [];
      this.size = 0;
      this.truncated = false;
    }

    add(text) {
      if (this.truncated || !text) return;
      if (this.size + text.length > this.limit) {
        this.parts.push(text.slice(0, this.limit - this.size));
        this.size = this.limit;
        this.truncated = true;
        return;
      }
      this.parts.push(text);
      this.size += text.length;
    }

    text() {
      return this.parts.join("");
    }
  }

  // One HTTP call, from the request to the end of its response.
  class Call {
    constructor(transport, { url, app }, method) {
      this.app = app;
      this.message = {
        type: "call",
        id: newId(),
        transport,
        url,
        method: String(method || "GET").toUpperCase(),
        request_body: "",
        status: 0,
        response_headers: {},
        response_body: "",
        complete: false,
        started_at: new Date().toISOString(),
        ttft_ms: null,
        duration_ms: null,
      };
      this.started = performance.now();
      this.requestBody = Promise.resolve("");
      this.response = new BoundedText(MAX_RESPONSE_CHARS);
      this.done = false;
    }

    respond(status, contentType) {
      this.message.status = status;
      if (contentType) this.message.response_headers = { "content-type": contentType };
    }

    chunk(text) {
      if (this.message.ttft_ms === null) this.message.ttft_ms = performance.now() - this.started;
      this.response.add(text);
    }

    // `complete`: the response was read to its end (not failed, aborted or truncated here).
    async finish(complete) {
      if (this.done) return;
      this.done = true;
      const message = this.message;
      message.duration_ms = performance.now() - this.started;
      const request = new BoundedText(MAX_REQUEST_CHARS);
      try {
        request.add(await this.requestBody);
      } catch {
        // an unreadable request body is sent empty
      }
      message.request_body = request.text();
      message.response_body = this.response.text();
      message.complete = complete && !this.response.truncated && !request.truncated;
      send(this.app, message);
    }
  }

  // A request body as text, without consuming what the page sends.
  async function bodyText(body) {
    if (body === null || body === undefined) return "";
    if (typeof body === "string") return body;
    if (body instanceof URLSearchParams) return body.toString();
    if (body instanceof Blob) return body.text();
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return new TextDecoder().decode(body);
    if (body instanceof FormData) return new Response(body).text();
    if (body instanceof ReadableStream) return ""; // reading it would take it from the page
    return String(body);
  }

  // -- fetch --------------------------------------------------------------------------------

  async function readFetchResponse(call, response) {
    call.respond(response.status, response.headers.get("content-type"));
    const copy = response.clone(); // before the page can read the body
    if (!copy.body) return call.finish(true);
    const reader = copy.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        call.chunk(decoder.decode(value, { stream: true }));
        if (call.response.truncated) {
          reader.cancel().catch(() => {}); // only our copy stops; the page's stream goes on
          break;
        }
      }
      call.chunk(decoder.decode());
      return call.finish(true);
    } catch {
      return call.finish(false); // aborted by the page, or the connection failed
    }
  }

  function startFetchCall(input, init) {
    const request = input instanceof Request ? input : null;
    const target = tapped(request ? request.url : String(input), false);
    if (!target) return null;
    const call = new Call("fetch", target, (init && init.method) || (request && request.method));
    if (init && init.body !== undefined && init.body !== null) call.requestBody = bodyText(init.body);
    else if (request && request.body) call.requestBody = request.clone().text(); // before fetch reads it
    return call;
  }

  window.fetch = function fetch(input, init) {
    let call = null;
    try {
      call = startFetchCall(input, init);
    } catch {
      call = null;
    }
    const result = nativeFetch.apply(this, arguments);
    if (call) {
      result.then(
        (response) => readFetchResponse(call, response).catch(() => {}),
        () => call.finish(false),
      );
    }
    return result;
  };

  // -- XMLHttpRequest -----------------------------------------------------------------------

  const xhrProto = XMLHttpRequest.prototype;
  const nativeOpen = xhrProto.open;
  const nativeSend = xhrProto.send;
  const opened = new WeakMap(); // xhr -> {target, method} of a tapped request

  xhrProto.open = function open(method, url) {
    try {
      const target = tapped(String(url), false);
      if (target) opened.set(this, { target, method });
      else opened.delete(this);
    } catch {
      opened.delete(this);
    }
    return nativeOpen.apply(this, arguments);
  };

  async function xhrResponseText(xhr) {
    switch (xhr.responseType) {
      case "":
      case "text":
        return xhr.responseText;
      case "json":
        return xhr.response === null ? "" : stringify(xhr.response);
      case "arraybuffer":
        return xhr.response ? new TextDecoder().decode(xhr.response) : "";
      case "blob":
        return xhr.response ? xhr.response.text() : "";
      default:
        return "";
    }
  }

  xhrProto.send = function send(body) {
    try {
      const request = opened.get(this);
      if (request) {
        const call = new Call("xhr", request.target, request.method);
        call.requestBody = bodyText(body);
        const xhr = this;
        nativeListen.call(xhr, "progress", () => {
          if (call.message.ttft_ms === null) call.message.ttft_ms = performance.now() - call.started;
        });
        nativeListen.call(xhr, "loadend", async () => {
          try {
            call.respond(xhr.status, xhr.getResponseHeader("content-type"));
            call.response.add(await xhrResponseText(xhr)); // the first "progress" timed the first byte
            const loaded = xhr.readyState === XMLHttpRequest.DONE && xhr.status !== 0;
            await call.finish(loaded);
          } catch {
            // the copy is lost, the page is not
          }
        });
      }
    } catch {
      // never in the page's way
    }
    return nativeSend.apply(this, arguments);
  };

  // -- EventSource ----------------------------------------------------------------------------
  // Its events are written back as server-sent-event text, as they came off the wire: every
  // "message" event, plus every named event the page listens for (an EventSource delivers a
  // named event only to listeners of that name).

  function tapEventSource(source, target) {
    let call = null;
    const heard = new Set();
    const hear = (type) => {
      if (heard.has(type)) return;
      heard.add(type);
      nativeListen.call(source, type, (event) => {
        if (!call) return;
        const data = String(event.data).split("\n").map((line) => `data: ${line}\n`).join("");
        call.chunk((type === "message" ? "" : `event: ${type}\n`) + data + "\n");
      });
    };
    const start = () => {
      call = new Call("eventsource", target, "GET");
      call.respond(200, "text/event-stream");
    };
    start();
    hear("message");
    nativeListen.call(source, "open", () => {
      if (!call || call.done) start();
    });
    // An "error" while reconnecting means the response ended; with CLOSED it failed.
    nativeListen.call(source, "error", () => {
      if (call) call.finish(source.readyState !== EventSource.CLOSED);
    });
    return { hear, close: () => call && call.finish(true) };
  }

  const NativeEventSource = window.EventSource;
  if (NativeEventSource) {
    const taps = new WeakMap();
    window.EventSource = class EventSource extends NativeEventSource {
      constructor(url, init) {
        super(url, init);
        try {
          const target = tapped(String(url), false);
          if (target) taps.set(this, tapEventSource(this, target));
        } catch {
          // never in the page's way
        }
      }

      addEventListener(type, listener, options) {
        const tap = taps.get(this);
        if (tap) tap.hear(String(type));
        return super.addEventListener(type, listener, options);
      }

      close() {
        const tap = taps.get(this);
        if (tap) tap.close();
        return super.close();
      }
    };
  }

  // -- WebSocket ------------------------------------------------------------------------------
  // A session lasts as long as the page keeps it, so its messages go out in batches (every
  // second while it is busy, and when it closes); the host reads each response as it completes.

  class Session {
    constructor({ url, app }) {
      this.id = newId();
      this.url = url;
      this.app = app;
      this.pending = [];
      this.timer = null;
    }

    add(fromClient, data) {
      let text;
      if (typeof data === "string") text = data;
      else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) text = new TextDecoder().decode(data);
      else return; // a Blob would arrive out of order; the catalog's WebSocket APIs send text
      this.pending.push({ from_client: fromClient, text, at: new Date().toISOString() });
      if (this.pending.length >= WEBSOCKET_BATCH_MESSAGES) this.flush(false, true);
      else if (this.timer === null) this.timer = later(() => this.flush(false, true), WEBSOCKET_FLUSH_MS);
    }

    flush(closed, clean) {
      clearTimeout(this.timer);
      this.timer = null;
      if (!this.pending.length && !closed) return;
      const messages = this.pending;
      this.pending = [];
      send(this.app, { type: "websocket", id: newId(), session: this.id, url: this.url, messages, closed, clean });
    }
  }

  const NativeWebSocket = window.WebSocket;
  if (NativeWebSocket) {
    const sessions = new WeakMap();
    window.WebSocket = class WebSocket extends NativeWebSocket {
      constructor(url, protocols) {
        super(url, protocols);
        try {
          const target = tapped(this.url, true);
          if (target) {
            const session = new Session(target);
            sessions.set(this, session);
            nativeListen.call(this, "message", (event) => session.add(false, event.data));
            nativeListen.call(this, "close", (event) => session.flush(true, event.wasClean));
          }
        } catch {
          // never in the page's way
        }
      }

      send(data) {
        try {
          const session = sessions.get(this);
          if (session && this.readyState === NativeWebSocket.OPEN) session.add(true, data);
        } catch {
          // never in the page's way
        }
        return super.send(data);
      }
    };
  }
})();
