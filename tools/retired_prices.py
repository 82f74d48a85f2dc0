"""Write offgate/retired_prices.json: the last known price of every model LiteLLM's price map
no longer lists, taken from earlier litellm wheels.

Run at development time only (offgate never fetches anything at run time):

    pip download --no-deps --only-binary=:all: -d /tmp/litellm-wheels litellm==1.55.0 litellm==1.80.0 ...
    curl -o /tmp/litellm-pypi.json https://pypi.org/pypi/litellm/json   # the release dates
    uv run python tools/retired_prices.py /tmp/litellm-wheels /tmp/litellm-pypi.json

Each model keeps the entry of the newest wheel that listed it, with that release's version and
date on PyPI (it was listed as late as that); only the fields pricing reads are kept.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from packaging.version import Version

from offgate import pricing

PRICE_MAP_IN_WHEEL = f"litellm/{pricing.PRICE_MAP_FILE}"
OUTPUT = Path(pricing.__file__).with_name(pricing.RETIRED_PRICES_FILE)
KEPT_FIELDS = ("litellm_provider", "mode", "input_cost_per_token", "output_cost_per_token",
               "cache_read_input_token_cost", "cache_creation_input_token_cost", "output_cost_per_reasoning_token",
               "input_cost_per_audio_token", "output_cost_per_audio_token", "tiered_pricing")


def main(wheel_dir: Path, pypi_json: Path) -> None:
    released = {version: files[0]["upload_time"][:10]
                for version, files in json.loads(pypi_json.read_text())["releases"].items() if files}
    current = pricing.current_price_map()
    retired: dict[str, dict[str, Any]] = {}
    wheels = sorted(wheel_dir.glob("litellm-*.whl"), key=lambda wheel: Version(wheel.name.split("-")[1]))
    for wheel in wheels:
        version = wheel.name.split("-")[1]
        with zipfile.ZipFile(wheel) as archive:
            entries: dict[str, Any] = json.loads(archive.read(PRICE_MAP_IN_WHEEL))
        for key, entry in entries.items():
            if key == "sample_spec" or key in current or not isinstance(entry, dict):
                continue
            kept = {field: entry[field] for field in KEPT_FIELDS if field in entry}
            if any(field.endswith("_per_token") for field in kept) or "tiered_pricing" in kept:
                retired[key] = {**kept, "last_listed": released[version], "last_listed_in": f"litellm {version}"}
    document = {"about": "models LiteLLM's price map dropped, with their last listed prices "
                         "(tools/retired_prices.py)",
                "from_wheels": [wheel.name.split("-")[1] for wheel in wheels],
                "models": dict(sorted(retired.items()))}
    OUTPUT.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{len(retired)} retired models from {len(wheels)} wheels -> {OUTPUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
