"""The extension's files made from the catalog: generated/targets.js (which requests the
page tap copies) and the manifest's content-script patterns (which pages it runs on).

`offgate extension targets` writes them; a test checks the committed files are current.
"""

from __future__ import annotations

import json
from pathlib import Path

from native_host.extension import EXTENSION_DIR, MANIFEST, read_manifest
from offgate.catalog.export import content_script_matches, targets_js, web_app_targets

TARGETS_JS = EXTENSION_DIR / "generated" / "targets.js"


def generated_files() -> dict[Path, str]:
    targets = web_app_targets()
    manifest = read_manifest()
    for script in manifest["content_scripts"]:
        script["matches"] = content_script_matches(targets)
    return {
        TARGETS_JS: targets_js(targets),
        MANIFEST: json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
    }


def write_generated_files() -> list[Path]:
    """Write the generated files; returns those that changed."""
    changed = []
    for path, text in generated_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
