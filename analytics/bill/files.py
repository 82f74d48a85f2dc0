"""The clouds' billing exports, as CSV, told apart by their header:

- Azure OpenAI: Cost Management's "cost and usage details" export (columns `date`,
  `meterCategory`, `meterName`, `quantity`, `costInBillingCurrency`, `billingCurrency`,
  `resourceId`; older exports capitalise them: `Date`, `MeterCategory`, ...); rows whose
  meter category is "Azure OpenAI" or "Cognitive Services" with an OpenAI meter. Token
  meters are priced per 1K tokens, so `quantity` counts thousands.
  https://learn.microsoft.com/azure/cost-management-billing/automate/understand-usage-details-fields
- Vertex AI / Gemini: the Cloud Billing export (BigQuery's standard usage cost table, saved
  as CSV: `service.description`, `sku.description`, `usage_start_time`, `usage.amount`,
  `usage.unit`, `cost`, `currency`, `project.id`); rows of the "Vertex AI" or "Gemini API"
  services. https://cloud.google.com/billing/docs/how-to/export-data-bigquery-tables/standard-usage
- AWS Bedrock: Cost and Usage Report rows (`lineItem/UsageStartDate`,
  `lineItem/ProductCode`, `lineItem/UsageType`, `lineItem/UsageAmount`,
  `lineItem/UnblendedCost`, `lineItem/CurrencyCode`, `lineItem/UsageAccountId`) whose product
  is AmazonBedrock (or a Bedrock model sold through the Marketplace, product name "... (Amazon
  Bedrock Edition)"). https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-line-item.html

Clouds bill per resource, project or account, not per key: a line's key is empty and its
account is the resource, project or account. The model is the meter, SKU or usage type as
the cloud names it. Rows of other services are skipped; a row that cannot be read is
reported with its line number and skipped, the others imported.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from analytics.bill.source import BillInputError
from analytics.spend.source import Progress
from offgate.store.bill import BillLine


@dataclass(frozen=True, slots=True)
class _Entry:
    provider: str
    day: date
    model: str
    account: str | None
    token_class: str | None  # "input", "output", "cache_read", "cache_write", or None (not tokens)
    tokens: int
    cost: float


class FileBillSource:
    kind = "file"

    def __init__(self, path: Path, *, since: datetime | None = None, until: datetime | None = None) -> None:
        self.path = path
        self.since, self.until = since, until
        self.problems: list[str] = []

    def describe(self) -> str:
        return f"billing export {self.path}"

    def lines(self, progress: Progress) -> Iterator[list[BillLine]]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as file:
                reader = csv.DictReader(file)
                read = _reader_for(set(reader.fieldnames or ()), self.path)
                entries = []
                for number, row in enumerate(reader, start=2):
                    try:
                        entry = read(row)
                    except (KeyError, ValueError) as exc:
                        self.problems.append(f"line {number}: {type(exc).__name__}: {exc}")
                        continue
                    if entry is not None and self._in_window(entry.day):
                        entries.append(entry)
        except OSError as exc:
            raise BillInputError(f"cannot read {self.path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise BillInputError(f"{self.path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        progress(len(entries), len(entries))
        yield _lines(entries)

    def _in_window(self, day: date) -> bool:
        return (self.since is None or day >= self.since.date()) and (self.until is None or day <= self.until.date())


def _lines(entries: list[_Entry]) -> list[BillLine]:
    """One line per provider, day, account and model: tokens by class, cost summed."""
    lines: dict[tuple[str, date, str | None, str], BillLine] = {}
    tokens: dict[tuple[str, date, str | None, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for entry in entries:
        cell = (entry.provider, entry.day, entry.account, entry.model)
        line = lines.get(cell) or BillLine(provider=entry.provider, day=entry.day, model=entry.model, key_id=None,
                                           key_hint=None, account=entry.account, cost_usd=0.0)
        lines[cell] = replace(line, cost_usd=(line.cost_usd or 0.0) + entry.cost)
        if entry.token_class:
            tokens[cell][entry.token_class] += entry.tokens
    return [replace(line, input_tokens=tokens[cell]["input"], output_tokens=tokens[cell]["output"],
                    cache_read_tokens=tokens[cell]["cache_read"], cache_write_tokens=tokens[cell]["cache_write"])
            for cell, line in lines.items()]


def _token_class(text: str) -> str | None:
    lowered = text.lower().replace("-", " ").replace("_", " ")
    if "cache" in lowered or "cached" in lowered:
        return "cache_write" if "write" in lowered or "creation" in lowered else "cache_read"
    if "output" in lowered or " outp" in lowered or " out " in f"{lowered} ":
        return "output"
    if "input" in lowered or " inp" in lowered or " in " in f"{lowered} ":
        return "input"
    return None


def _usd(currency: str, where: str) -> None:
    if currency.strip().upper() not in ("USD", ""):
        raise ValueError(f"{where} is in {currency}, not USD")


def _azure(row: dict[str, Any]) -> _Entry | None:
    get = _case_insensitive(row)
    category, meter = get("meterCategory"), get("meterName")
    if category not in ("Azure OpenAI", "Cognitive Services") or (category == "Cognitive Services"
                                                                  and "openai" not in get("meterSubCategory").lower()):
        return None
    _usd(get("billingCurrency"), "the cost")
    day = _day(get("date"))
    thousands = "1k" in meter.lower().replace(" ", "")
    quantity = float(get("quantity") or 0)
    return _Entry("azure", day, meter, get("resourceId") or None, _token_class(meter),
                  round(quantity * (1000 if thousands else 1)), float(get("costInBillingCurrency") or 0))


def _vertex(row: dict[str, Any]) -> _Entry | None:
    if row["service.description"] not in ("Vertex AI", "Gemini API"):
        return None
    _usd(row.get("currency", ""), "the cost")
    sku, unit = row["sku.description"], row.get("usage.unit", "")
    amount = float(row.get("usage.amount") or 0)
    tokens = round(amount * (1000 if unit.lower().startswith("1k") or "thousand" in unit.lower() else 1))
    return _Entry("vertex", _day(row["usage_start_time"]), sku, row.get("project.id") or None, _token_class(sku),
                  tokens, float(row.get("cost") or 0))


def _bedrock(row: dict[str, Any]) -> _Entry | None:
    product, name = row["lineItem/ProductCode"], row.get("product/ProductName", "")
    if product != "AmazonBedrock" and "Amazon Bedrock" not in name:
        return None
    _usd(row.get("lineItem/CurrencyCode", ""), "the cost")
    usage_type = row["lineItem/UsageType"]
    return _Entry("bedrock", _day(row["lineItem/UsageStartDate"]), usage_type,
                  row.get("lineItem/UsageAccountId") or None, _token_class(usage_type),
                  round(float(row.get("lineItem/UsageAmount") or 0)), float(row.get("lineItem/UnblendedCost") or 0))


def _reader_for(columns: set[str], path: Path) -> Callable[[dict[str, Any]], _Entry | None]:
    lowered = {column.lower() for column in columns}
    if {"metercategory", "metername", "quantity", "costinbillingcurrency"} <= lowered:
        return _azure
    if {"service.description", "sku.description", "usage_start_time", "cost"} <= columns:
        return _vertex
    if {"lineItem/ProductCode", "lineItem/UsageType", "lineItem/UsageStartDate", "lineItem/UnblendedCost"} <= columns:
        return _bedrock
    raise BillInputError(f"{path}: not a billing export offgate reads (Azure cost details, Google Cloud's billing "
                         "export or an AWS Cost and Usage Report, as CSV with their column names)")


def _case_insensitive(row: dict[str, Any]) -> Callable[[str], str]:
    lowered = {str(name).lower(): value for name, value in row.items()}
    return lambda name: str(lowered.get(name.lower()) or "")


def _day(text: str) -> date:
    text = text.strip()
    if "/" in text:  # Azure's older exports: MM/DD/YYYY
        return datetime.strptime(text.split(" ")[0], "%m/%d/%Y").date()
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00")).date()
