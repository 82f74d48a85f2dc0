"use strict";

const api = globalThis.browser ?? globalThis.chrome;
const apps = [...new Set(OFFGATE_TARGETS.map((target) => target.app))].sort();

function save(settings) {
  api.storage.local.set(settings).then(() => {
    document.getElementById("saved").textContent = "Saved; open app tabs follow at once.";
  });
}

api.storage.local.get({ enabled: true, disabledApps: [] }).then((settings) => {
  const enabled = document.getElementById("enabled");
  enabled.checked = settings.enabled;
  enabled.addEventListener("change", () => save({ enabled: enabled.checked }));
  const list = document.getElementById("apps");
  const disabled = new Set(settings.disabledApps);
  for (const app of apps) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !disabled.has(app);
    box.addEventListener("change", () => {
      if (box.checked) disabled.delete(app);
      else disabled.add(app);
      save({ disabledApps: [...disabled] });
    });
    label.append(box, ` ${app}`);
    list.append(label);
  }
});
