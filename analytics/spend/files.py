"""A LiteLLM spend export file: JSON lines or CSV, one LiteLLM_SpendLogs row per line,
with the table's column names (docs/litellm.md shows the psql commands that write both).

The format is told from the content: a file whose first character is "{" is JSON lines,
anything else CSV with a header row. A line that cannot be read is reported with its
number and skipped; every other line is imported.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from analytics.spend.rows import SpendRowError, record_from_row
from analytics.spend.source import Progress, SpendInputError
from offgate.store import naive_utc
from offgate.store.spend import SpendRecord

BATCH_ROWS = 5000
REQUIRED_CSV_COLUMNS = ("request_id", "startTime")


class FileSpendSource:
    kind = "file"

    def __init__(self, path: Path, *, since: datetime | None = None, until: datetime | None = None) -> None:
        self.path = path
        self.since = naive_utc(since) if since else None
        self.until = naive_utc(until) if until else None
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def describe(self) -> str:
        return f"spend export {self.path}"

    def batches(self, progress: Progress) -> Iterator[list[SpendRecord]]:
        try:
            file = self.path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise SpendInputError(f"cannot read {self.path}: {exc.strerror}") from None
        batch: list[SpendRecord] = []
        read = 0
        with file:
            try:
                for number, row in self._rows(file):
                    read += 1
                    try:
                        record = record_from_row(row)
                    except SpendRowError as exc:
                        self.problems.append(f"line {number}: {exc}")
                        continue
                    if self._in_window(record):
                        batch.append(record)
                    if len(batch) >= BATCH_ROWS:
                        yield batch
                        batch = []
                        progress(read, None)
            except UnicodeDecodeError as exc:
                raise SpendInputError(f"{self.path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        if batch:
            yield batch
        progress(read, read)

    def _rows(self, file: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
        start = file.read(4096).lstrip()
        file.seek(0)
        reader = self._json_lines if start.startswith("{") else self._csv_rows
        yield from reader(file)

    def _json_lines(self, file: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                self.problems.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(row, dict):
                self.problems.append(f"line {number}: not a JSON object")
                continue
            yield number, row

    def _csv_rows(self, file: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
        reader = csv.DictReader(file)
        missing = [column for column in REQUIRED_CSV_COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise SpendInputError(
                f"{self.path}: neither JSON lines nor a CSV whose header names {', '.join(missing)}: "
                "export LiteLLM_SpendLogs with its column names (see docs/litellm.md)"
            )
        while True:
            number = reader.line_num + 1  # where the next record starts
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.problems.append(f"line {number}: not CSV ({exc})")
                continue
            if None in row:
                self.problems.append(f"line {number}: more fields than the header has columns")
            elif None in row.values():
                self.problems.append(f"line {number}: fewer fields than the header has columns")
            else:
                yield number, row

    def _in_window(self, record: SpendRecord) -> bool:
        return (self.since is None or record.start_time >= self.since) and (
            self.until is None or record.start_time < self.until)
