"""Settings and the data directory ("home").

The home is `--home DIR`, else `$OFFGATE_HOME`, else the platform's user data directory.
Settings come from, highest first: keyword overrides, environment variables, then
`<home>/config.toml`, then the defaults below. Environment variables are named
`OFFGATE_<SECTION>__<KEY>` (`OFFGATE_PROXY__LISTEN_PORT=9000`), or `OFFGATE_DATABASE_URL`
for the one top-level key; lists are written as JSON:
`OFFGATE_PROXY__GATEWAYS='["https://litellm.example.com"]'`.
Unknown keys in the file are an error, so a typo never silently does nothing; a setting
that was removed (RETIRED_SETTINGS) is ignored with a warning that names it instead, so an
upgrade never stops the capture over a setting that did nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import tomllib
import types
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from offgate.errors import BadInputError
from offgate.policy import PolicySettings, key_line
from offgate.timespan import parse_span
from offgate.vocabulary import ALERT_DIMENSIONS, AlertDimension

HOME_ENV = "OFFGATE_HOME"
ENV_PREFIX = "OFFGATE_"
ENV_NESTED_DELIMITER = "__"
CONFIG_FILE = "config.toml"
DATABASE_FILE = "offgate.db"
DATABASE_URL_PREFIXES = ("sqlite:///", "postgresql://", "postgres://")
# (section, key) of settings that are gone -> why they are not needed.
RETIRED_SETTINGS = {("privacy", "store_prompts"): "offgate never stores prompt or reply text"}

log = logging.getLogger("offgate.config")


class ConfigError(BadInputError):
    """A setting or the home directory is unusable; the message names it and says why."""


class ProxySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8080, ge=1, le=65535)
    gateways: list[str] = Field(default_factory=list, description="LiteLLM gateway base URLs")
    gateway_context: bool = Field(
        default=True, description="tell the gateway this device, the calling app and its user (x-offgate-* headers)")


class DeviceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="overrides the hostname")


class ReconcileSettings(BaseModel):
    """How `offgate reconcile` matches captured calls to LiteLLM's spend rows."""

    model_config = ConfigDict(extra="forbid")

    time_tolerance_s: float = Field(
        default=10.0, gt=0, description="largest gap between a call's start and its spend row's startTime")
    token_tolerance: float = Field(
        default=0.05, ge=0, description="relative token difference allowed when the call reported its tokens")
    estimated_token_tolerance: float = Field(
        default=0.25, ge=0, description="relative token difference allowed when offgate estimated the tokens")
    cost_tolerance: float = Field(
        default=0.05, ge=0, description="relative cost difference above which a logged cost is a mismatch")
    cost_tolerance_usd: float = Field(
        default=0.000001, ge=0, description="absolute cost difference (USD) that is never a mismatch")
    grace_period_s: float = Field(
        default=300.0, ge=0, description="how long LiteLLM may take to log a call before it counts as unlogged")
    gateway_processes: list[str] = Field(
        default_factory=lambda: ["litellm"], description="process names of the gateway itself (on its host)")
    litellm_config: Path | None = Field(
        default=None, description="LiteLLM's config.yaml: the gateway's upstream keys, which the bills are "
                                  "reconciled against (read for their hints and fingerprints only)")


class AlertSettings(BaseModel):
    """What `offgate alerts` and `offgate watch` look for, and how loudly."""

    model_config = ConfigDict(extra="forbid")

    dimensions: list[AlertDimension] = Field(
        default_factory=lambda: list(ALERT_DIMENSIONS),
        description="entities whose unmanaged usage is watched")
    false_discovery_rate: float = Field(
        default=0.01, gt=0, lt=1, description="Benjamini-Hochberg q: the share of raised spikes allowed to be false")
    min_history_days: int = Field(
        default=14, ge=1, description="history an entity needs before its spikes are judged")
    min_cost_usd: float = Field(
        default=1.0, ge=0, description="a cost spike smaller than this (USD above baseline) is not raised")
    lookback_hours: float = Field(
        default=24.0, gt=0, description="how far back a run looks for anomalies it has not raised yet")
    cooldown_hours: float = Field(
        default=24.0, ge=0, description="an alert of one kind about one entity is raised at most once per cooldown")
    monthly_budget_usd: float | None = Field(
        default=None, gt=0, description="budget for unmanaged spend in a calendar month, all entities together")
    entity_budgets_usd: dict[str, float] = Field(
        default_factory=dict, description='monthly budgets per entity, keyed "dimension:name" (e.g. "user:alice")')
    budget_probability: float = Field(
        default=0.8, gt=0, lt=1, description="raise a budget alert when the chance of passing it reaches this")
    first_seen: bool = Field(default=True, description="alert on a new app, provider, key or device")
    device_silent_after: str | None = Field(
        default="26h", description="alert when an enrolled device has not reported for this long (30m, 26h, 2d), "
                                   "or its proxy recorded nothing that long while its browser extension did; "
                                   "unset: no silence alerts")

    @field_validator("device_silent_after")
    @classmethod
    def _silence_span(cls, text: str | None) -> str | None:
        if text is not None:
            parse_span(text)  # a ValueError says what is accepted
        return text

    @property
    def device_silence(self) -> timedelta | None:
        """device_silent_after as a length of time (None: off)."""
        return None if self.device_silent_after is None else parse_span(self.device_silent_after)

    @field_validator("entity_budgets_usd")
    @classmethod
    def _budget_keys(cls, budgets: dict[str, float]) -> dict[str, float]:
        dimensions = ALERT_DIMENSIONS
        for key, amount in budgets.items():
            dimension, _, name = key.partition(":")
            if dimension not in dimensions or not name:
                raise ValueError(f"{key!r} is not \"dimension:name\" with a dimension of {', '.join(dimensions)}")
            if amount <= 0:
                raise ValueError(f"the budget for {key!r} must be above 0, got {amount}")
        return budgets

    def entity_budgets(self) -> list[tuple[AlertDimension, str, float]]:
        """entity_budgets_usd as (dimension, entity, monthly budget in USD)."""
        budgets: list[tuple[AlertDimension, str, float]] = []
        for key, amount in self.entity_budgets_usd.items():
            dimension, _, entity = key.partition(":")
            budgets.append((cast(AlertDimension, dimension), entity, amount))  # the validator checked it
        return budgets


class ChannelUrl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="the incoming-webhook URL; unset: the channel is off")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^/?#\s]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(default=None, description="SMTP server; unset: email is off")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "offgate@localhost"
    to: list[str] = Field(default_factory=list, validate_default=True)

    @field_validator("to")
    @classmethod
    def _recipients_when_on(cls, to: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("host") and not to:
            raise ValueError("lists no recipient, but email.host is set")
        return to


class NotifySettings(BaseModel):
    """Where alerts go. Every channel is off until configured, except the desktop."""

    model_config = ConfigDict(extra="forbid")

    min_severity: Literal["info", "warning", "critical"] = "warning"
    max_per_hour: int = Field(default=10, ge=1, description="notifications per channel per hour; the rest wait")
    retries: int = Field(default=3, ge=0, description="attempts after the first, per notification and channel")
    desktop: bool = True
    webhook: ChannelUrl = Field(default_factory=ChannelUrl)
    slack: ChannelUrl = Field(default_factory=ChannelUrl)
    teams: ChannelUrl = Field(default_factory=ChannelUrl)
    email: EmailSettings = Field(default_factory=EmailSettings)


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8765, ge=0, le=65535)
    approver: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="who decides approval requests from the dashboard (whoever holds its token); "
                    "unset: the OS account that runs the dashboard, as for `offgate approvals`")


class ExportSettings(BaseModel):
    """Where the usage records also go: an OpenTelemetry receiver (collector, Grafana, Datadog)."""

    model_config = ConfigDict(extra="forbid")

    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP base URL, e.g. http://collector:4318 (logs go to /v1/logs); "
                                  "unset: no export")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers sent with every export")
    interval: str = Field(default="30s", description="how often `offgate up` and `offgate serve` export (30s, 5m)")

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_base_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", url):
            raise ValueError("must be an http:// or https:// URL such as http://collector:4318")
        return url

    @field_validator("interval")
    @classmethod
    def _interval_span(cls, text: str) -> str:
        if parse_span(text).total_seconds() <= 0:
            raise ValueError("must be longer than nothing")
        return text

    @property
    def interval_s(self) -> float:
        return parse_span(self.interval).total_seconds()

    @property
    def logs_url(self) -> str | None:
        """The logs signal's URL: the base URL with /v1/logs, unless it names that path already."""
        if self.otlp_endpoint is None:
            return None
        base = self.otlp_endpoint.rstrip("/")
        return base if base.endswith("/v1/logs") else base + "/v1/logs"


class Settings(BaseModel):
    """Every setting; `load_settings` fills it from the file and the environment."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = None
    proxy: ProxySettings = Field(default_factory=ProxySettings)
    device: DeviceSettings = Field(default_factory=DeviceSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    export: ExportSettings = Field(default_factory=ExportSettings)


def resolve_home(explicit: Path | None) -> Path:
    """The data directory, created (mode 0700) if missing; ConfigError if it is unusable."""
    if explicit is not None:
        home = explicit
    elif os.environ.get(HOME_ENV):
        home = Path(os.environ[HOME_ENV])
    else:
        import platformdirs  # here: the native host names its home and must answer fast (issue 17)

        home = Path(platformdirs.user_data_dir("offgate"))
    home = home.expanduser().absolute()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"home {home} exists but is not a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot create home {home}: {exc.strerror}") from None
    if not home.is_dir():
        raise ConfigError(f"home {home} exists but is not a directory")
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(f"home {home} is not writable")
    return home


def load_settings(home: Path, warn: Callable[[str], None] = log.warning, **overrides: Any) -> Settings:
    """Settings from `overrides`, the environment and `<home>/config.toml`, in that order;
    `warn` is told of each retired setting the file still has."""
    config_file = home / CONFIG_FILE
    try:
        values = _file_settings(config_file, warn)
        _merge(values, _environment_settings(os.environ))
        _merge(values, overrides)
        return Settings.model_validate(values)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {config_file}: {exc.strerror}") from None
    except ValidationError as exc:
        problems = "\n".join(_describe_problem(error, config_file) for error in exc.errors())
        raise ConfigError(f"invalid settings:\n{problems}") from None


def database_url_for(settings: Settings, home: Path) -> str:
    """The store's URL: the configured one, else SQLite in the home directory."""
    return checked_database_url(settings.database_url or f"sqlite:///{home / DATABASE_FILE}")


def checked_database_url(url: str) -> str:
    """`url` if offgate can store there; else ConfigError, the password hidden."""
    if not url.startswith(DATABASE_URL_PREFIXES):
        raise ConfigError(
            f"database_url {redact_url(url)!r} is not supported: use sqlite:///PATH "
            "or postgresql://USER:PASSWORD@HOST/DATABASE"
        )
    return url


def device_name(override: str | None = None) -> str:
    """The name records give this machine: the `device.name` setting, else the hostname."""
    return override or socket.gethostname()


def redact_url(url: str) -> str:
    """The URL (or a message holding one) with any password replaced by ***, safe to print
    and log. A password may hold any character but a space, "/" and "@" included: it runs
    to the last "@" of the URL, at the cost of hiding too much if a path holds one."""
    url = re.sub(r"(://[^:/@\s]*:)\S*@", r"\1***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url, flags=re.IGNORECASE)


def _file_settings(config_file: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    """The settings `config_file` holds (none when there is no file), the retired ones dropped."""
    if not config_file.is_file():
        return {}
    with config_file.open("rb") as file:
        values = tomllib.load(file)
    for (section, key), why in RETIRED_SETTINGS.items():
        table = values.get(section)
        if isinstance(table, dict) and key in table:
            del table[key]
            if not table:
                del values[section]
            warn(f"{config_file}: {section}.{key} is no longer a setting and is ignored ({why}); remove it")
    return values


def _environment_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings OFFGATE_<SECTION>__<KEY> variables give (names in any case), nested as the
    file's are. A list, table or section is JSON; a variable naming no top-level setting
    (OFFGATE_HOME) is not a setting; an unknown key inside a section is, so it is refused."""
    values: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX):].lower().split(ENV_NESTED_DELIMITER)
        if path[0] not in Settings.model_fields or not all(path):
            continue
        value: Any = text
        if _is_structured(_annotation_at(path)):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"environment variable {name.upper()} is not JSON: lists and sections in environment "
                    f"variables are JSON, e.g. {ENV_PREFIX}PROXY{ENV_NESTED_DELIMITER}GATEWAYS="
                    "'[\"https://litellm.example.com\"]'") from None
        for key in reversed(path):
            value = {key: value}
        _merge(values, value)
    return values


def _annotation_at(path: list[str]) -> Any:
    """The type of the setting at `path` (None past an unknown key)."""
    model: Any = Settings
    annotation: Any = None
    for key in path:
        fields = getattr(model, "model_fields", None)
        if not isinstance(fields, dict) or key not in fields:
            return None
        annotation = _without_none(cast(Any, fields[key]).annotation)
        model = annotation
    return annotation


def _without_none(annotation: Any) -> Any:
    """`X` for `X | None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [arg for arg in get_args(annotation) if arg is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def _is_structured(annotation: Any) -> bool:
    """A list, a table or a section: written as JSON in an environment variable."""
    kind = get_origin(annotation) or annotation
    return kind in (list, dict, set, tuple) or (isinstance(kind, type) and issubclass(kind, BaseModel))


def _merge(into: dict[str, Any], values: Mapping[str, Any]) -> None:
    """`values` over `into`, section by section: a key set in both sections keeps the later."""
    for key, value in values.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(cast(dict[str, Any], current), cast(Mapping[str, Any], value))
        else:
            into[key] = value


def load_policy_file(path: Path) -> PolicySettings:
    """The `[policy]` section of a file written as config.toml's (`offgate fleet policy set`),
    validated as config.toml's is: ConfigError naming the line of each bad rule."""
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    others = sorted(set(values) - {"policy"})
    if others:
        raise ConfigError(f"{path}: a policy file holds only [policy] (and its [[policy.rules]]), not "
                          f"{', '.join(others)}")
    if not isinstance(values.get("policy"), dict):
        raise ConfigError(f"{path}: no [policy] section")
    try:
        return PolicySettings.model_validate(values["policy"])
    except ValidationError as exc:
        problems = "\n".join(_describe_problem(error, path, within=("policy",)) for error in exc.errors())
        raise ConfigError(f"invalid policy:\n{problems}") from None


def _describe_problem(error: ErrorDetails, config_file: Path, within: tuple[str, ...] = ()) -> str:
    """Where and what, never the value: it may be a password or a webhook's secret path.
    `within`: the section the validated values came from."""
    location = within + tuple(str(part) for part in error["loc"])
    key = ".".join(location)
    what = "unknown setting" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
    source = _source_of(location, config_file) if not within else str(config_file)
    if source == str(config_file):
        source += _rule_line(location, config_file)
    return f"  {source}: {key}: {what}"


def _rule_line(location: tuple[str, ...], config_file: Path) -> str:
    """", line N" for a problem inside a `[[policy.rules]]` table of the file, else ""."""
    if location[:2] != ("policy", "rules") or len(location) < 3 or not location[2].isdigit():
        return ""
    try:
        text = config_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    key = location[3] if len(location) > 3 else ""
    line = key_line(text, int(location[2]), key)
    return "" if line is None else f", line {line}"


def _source_of(location: tuple[str, ...], config_file: Path) -> str:
    """Which source gave the value at `location`: an environment variable wins over the file."""
    set_names = {name.upper() for name in os.environ}
    for depth in range(1, len(location) + 1):
        name = ENV_PREFIX + ENV_NESTED_DELIMITER.join(location[:depth]).upper()
        if name in set_names:
            return f"environment variable {name}"
    return str(config_file)
