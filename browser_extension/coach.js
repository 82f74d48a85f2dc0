// offgate coach. Runs in the extension's isolated world on the AI web apps' pages. When the
// company's policy coaches this app (the service worker says so, at most once per app per
// day), it shows a notice with the rule's message and the sanctioned alternative's link. The
// notice lives in a closed shadow root of an element of its own: the page's scripts (another
// world) cannot reach its content, and one that removes the element sees it put back until
// the person dismisses it. The notice blocks nothing: the page works underneath.
(() => {
  "use strict";

  const api = globalThis.browser ?? globalThis.chrome;
  const target = OFFGATE_TARGETS.find((t) => t.host === location.hostname);
  if (!target) return;

  const STYLE = `
    :host { all: initial; }
    .notice { position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; max-width: 360px;
      padding: 12px 14px; border-radius: 8px; background: #1f2937; color: #f9fafb;
      font: 14px/1.4 system-ui, sans-serif; box-shadow: 0 4px 16px rgba(0, 0, 0, .3); }
    .title { font-weight: 600; margin: 0 0 4px; }
    p { margin: 0 0 8px; }
    a { color: #93c5fd; }
    button { margin-left: 12px; background: none; border: 1px solid #9ca3af; color: inherit;
      border-radius: 4px; padding: 2px 8px; cursor: pointer; font: inherit; }`;

  function show(rule) {
    const host = document.createElement("offgate-notice");
    const root = host.attachShadow({ mode: "closed" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    const box = document.createElement("div");
    box.className = "notice";
    box.setAttribute("role", "status");
    const title = document.createElement("p");
    title.className = "title";
    title.textContent = "A word from your company's AI policy";
    const message = document.createElement("p");
    message.textContent = rule.message;
    box.append(title, message);
    const actions = document.createElement("div");
    if (rule.alternative_url) {
      const link = document.createElement("a");
      link.href = rule.alternative_url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = "Use the recommended tool";
      link.addEventListener("click", () => tell("clicked"));
      actions.append(link);
    }
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.textContent = "Dismiss";
    actions.append(dismiss);
    box.append(actions);
    root.append(style, box);

    let dismissed = false;
    const keepShown = new MutationObserver(() => {
      if (!dismissed && !host.isConnected) document.documentElement.append(host);
    });
    dismiss.addEventListener("click", () => {
      dismissed = true;
      keepShown.disconnect();
      host.remove();
    });
    document.documentElement.append(host);
    keepShown.observe(document.documentElement, { childList: true, subtree: true });
    tell("shown");
  }

  function tell(event) {
    api.runtime.sendMessage({ kind: "coached", app: target.app, event }).catch(() => {});
  }

  api.runtime.sendMessage({ kind: "coaching", app: target.app }).then((rule) => {
    if (rule && typeof rule.message === "string") show(rule);
  }, () => {});
})();
