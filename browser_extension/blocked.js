// The page a tab of a blocked AI web app is sent to: the rule's message and where to go
// instead, as the service worker has them (validated when the host sent them).
"use strict";

const api = globalThis.browser ?? globalThis.chrome;
const app = new URLSearchParams(location.search).get("app") ?? "";

api.runtime.sendMessage({ kind: "blocked", app }).then((rule) => {
  if (!rule) return;
  document.getElementById("why").textContent = `Your company's AI policy ("${rule.rule}") blocks ${rule.app} on this computer.`;
  if (rule.message) document.getElementById("message").textContent = rule.message;
  if (rule.alternative_url) {
    const link = document.createElement("a");
    link.href = rule.alternative_url;
    link.textContent = "Go to the recommended tool";
    document.getElementById("alternative").append(link);
  }
}, () => {});
