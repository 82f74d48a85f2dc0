// offgate bridge. Runs in the extension's isolated world on the same pages as tap.js: it
// passes the tap's copies to the service worker, and gives the tap the settings (the options
// page can switch capture off, for every app or for one). Copies of an app switched off are
// dropped here too, in case one was under way when the setting changed.
//
// It talks to the tap over a MessageChannel: port2 goes to the tap once, now, in a synchronous
// DOM event while both run at document_start (the tap runs first and takes it), before any page
// script exists; copies arrive on port1 only, which nothing in the page can reach (see tap.js).
(() => {
  "use strict";

  const api = globalThis.browser ?? globalThis.chrome;
  const PORT_EVENT = "offgate:port";
  const DEFAULTS = { enabled: true, disabledApps: [] };
  let settings = DEFAULTS;

  const channel = new MessageChannel();
  const toTap = channel.port1;
  const offer = new MessageEvent(PORT_EVENT, { ports: [channel.port2], cancelable: true });
  if (document.dispatchEvent(offer)) {
    // Not taken: the tap did not run first, so nothing on this page is copied.
    console.warn("offgate: the page tap did not start before the page; nothing is recorded on this page");
    toTap.close();
    return;
  }

  toTap.onmessage = (event) => {
    if (typeof event.data !== "string") return;
    let app, message;
    try {
      ({ app, message } = JSON.parse(event.data));
    } catch {
      return;
    }
    if (!settings.enabled || settings.disabledApps.includes(app)) return;
    api.runtime.sendMessage({ kind: "capture", message }).catch(() => {});
  };

  function apply(stored) {
    settings = stored;
    toTap.postMessage(settings);
  }

  api.storage.local.get(DEFAULTS).then(apply, () => {});
  api.storage.onChanged.addListener(() => api.storage.local.get(DEFAULTS).then(apply, () => {}));
})();
