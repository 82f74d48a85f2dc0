"""LiteLLM's own database schema on a test PostgreSQL, from the migrations LiteLLM ships in
the litellm-proxy-extras package (applied in order with psql, as LiteLLM's Prisma would).

And rows for its `LiteLLM_SpendLogs` table made by LiteLLM itself: `get_logging_payload`,
the function the proxy writes each row with, called from a logger on real SDK calls.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import litellm_proxy_extras
import psycopg2

from tests.support.postgres import find_bin_dir

MIGRATIONS = Path(litellm_proxy_extras.__file__).parent / "migrations"


def apply_litellm_schema(url: str) -> None:
    files = sorted(MIGRATIONS.glob("*/migration.sql"))  # one folder name has spaces: kept as arguments
    arguments = [argument for path in files for argument in ("-f", str(path))]
    psql = shutil.which("psql") or str(find_bin_dir() / "psql")
    subprocess.run([psql, "-v", "ON_ERROR_STOP=1", "-q", "-d", url, *arguments],
                   check=True, capture_output=True, text=True)


def insert_spend_logs(url: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows shaped like get_logging_payload's output, as LiteLLM stores them (JSON
    columns as JSON, times as naive UTC)."""
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            for row in rows:
                values = {name: _stored(value) for name, value in row.items()}
                columns = ", ".join(f'"{name}"' for name in values)
                placeholders = ", ".join(["%s"] * len(values))
                cursor.execute(f'INSERT INTO "LiteLLM_SpendLogs" ({columns}) VALUES ({placeholders})',
                               list(values.values()))
    finally:
        connection.close()


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value
