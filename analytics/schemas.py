"""The JSON Schemas of the documents offgate publishes, made from their models:

- report.schema.json: the unmanaged-usage report, as `offgate report --format json` prints it
  and the dashboard's /api/summary serves it (analytics/report/document.py);
- alert.schema.json: one alert, as `offgate alerts --json` and the dashboard's /api/alerts list
  them, and the body the generic webhook (`[notify.webhook]`) posts, one alert per request
  (offgate/store/alerts.py). Slack's and Teams' payloads are theirs, not ours.

`uv run python -m analytics.schemas` writes them to docs/schemas/; a test checks the committed
files are current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from analytics.report.document import Report
from offgate.store.alerts import Alert

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
DOCUMENTS: dict[str, type[BaseModel]] = {"report.schema.json": Report, "alert.schema.json": Alert}


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """What `model` writes as JSON (its serialization: computed fields included, every field present)."""
    return {"$schema": DIALECT, **model.model_json_schema(mode="serialization")}


def schema_files(folder: Path = SCHEMA_DIR) -> dict[Path, str]:
    return {folder / name: json.dumps(schema(model), indent=2) + "\n" for name, model in DOCUMENTS.items()}


def write_schema_files(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Write the schemas; returns the files that changed."""
    changed = []
    for path, text in schema_files(folder).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    for written in write_schema_files():
        print(f"wrote {written}")
