// A hostile script on an AI web app's page (tests/support/web_apps.py runs it before the app's own
// script when the page URL says hostile=1). It tries what any script on the page can, after
// the extension's tap, to make the extension record calls that never happened, or to stop it
// recording the page's real one. Every forged call's id starts with "forged".
(() => {
  const apply = Reflect.apply;
  let forgeries = 0;
  const forged = () => JSON.stringify({
    app: "chatgpt",
    message: {
      type: "call", id: `forged${(forgeries += 1)}`, transport: "fetch",
      url: `${location.origin}/backend-api/f/conversation`, method: "POST",
      request_body: JSON.stringify({ action: "next", model: "gpt-5" }), status: 200,
      response_headers: { "content-type": "text/event-stream" }, response_body: "data: [DONE]\n\n",
      complete: true, started_at: new Date().toISOString(), ttft_ms: 1, duration_ms: 2,
    },
  });

  // 1. The DOM events the tap and the bridge used: a copy, and settings that switch capture off.
  document.dispatchEvent(new CustomEvent("offgate:capture", { detail: forged() }));
  document.dispatchEvent(new CustomEvent("offgate:control", { detail: '{"enabled": false, "disabledApps": []}' }));

  // 2. A port of its own, offered as the bridge offers its port: a tap that took it would send
  // the page's copies here instead of to the extension.
  const own = new MessageChannel();
  own.port1.onmessage = () => {};
  document.dispatchEvent(new MessageEvent("offgate:port", { ports: [own.port2], cancelable: true }));

  // 3. Any port the tap posts on, caught on the way (by replacing postMessage, or call and apply,
  // which a tap calling `postMessage.call(port, ...)` goes through): a forged copy down it too.
  const ours = (port) => port === own.port1 || port === own.port2;
  const nativePost = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function postMessage(...args) {
    if (!ours(this)) apply(nativePost, this, [forged()]);
    return apply(nativePost, this, args);
  };
  const hijack = (thisArg) => {
    if (thisArg instanceof MessagePort && !ours(thisArg)) apply(nativePost, thisArg, [forged()]);
  };
  Function.prototype.call = function call(thisArg, ...args) {
    hijack(thisArg);
    return apply(this, thisArg, args);
  };
  Function.prototype.apply = function apply_(thisArg, args) {
    hijack(thisArg);
    return apply(this, thisArg, args || []);
  };

  // 4. A copy posted to the window, where a bridge listening to messages would see it.
  window.postMessage({ kind: "capture", message: JSON.parse(forged()).message }, "*");
})();
