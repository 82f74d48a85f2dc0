// offgate bridge. Runs in the extension's isolated world on the same pages as tap.js: it
// passes the tap's copies to the service worker, and gives the tap the settings (the options
// page can switch capture off, for every app or for one). Copies of an app switched off are
// dropped here too, in case one was under way when the setting changed.
(() => {
  "use strict";

  const api = globalThis.browser ?? globalThis.chrome;
  const CAPTURE_EVENT = "offgate:capture";
  const CONTROL_EVENT = "offgate:control";
  const DEFAULTS = { enabled: true, disabledApps: [] };
  let settings = DEFAULTS;

  function apply(stored) {
    settings = stored;
    document.dispatchEvent(new CustomEvent(CONTROL_EVENT, { detail: JSON.stringify(settings) }));
  }

  api.storage.local.get(DEFAULTS).then(apply, () => {});
  api.storage.onChanged.addListener(() => api.storage.local.get(DEFAULTS).then(apply, () => {}));

  document.addEventListener(CAPTURE_EVENT, (event) => {
    if (typeof event.detail !== "string") return;
    let app, message;
    try {
      ({ app, message } = JSON.parse(event.detail));
    } catch {
      return;
    }
    if (!settings.enabled || settings.disabledApps.includes(app)) return;
    api.runtime.sendMessage({ kind: "capture", message }).catch(() => {});
  });
})();
