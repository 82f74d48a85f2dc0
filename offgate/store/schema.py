"""The store's tables and the migrations that build them, for SQLite and PostgreSQL alike.

The models are not bound to a database: every query names the one it runs on, so stores
on different databases can live in one process.

`MIGRATIONS[n - 1]` takes a store from version n - 1 to n. They run in order, in one
transaction, when a store opens, and `schema_version` records each version applied.
Migrations are history: once released, one is never edited. A migration that creates a
table does so from the model below, so the first later migration that changes that table
must first copy the model as it was into the migration that created it, keeping a fresh
store's history exact (usage_event's copy from version 1 is `_UsageEventRowV1`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    Database,
    DateField,
    DateTimeField,
    DoubleField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    SchemaManager,
    TextField,
    fn,
)
from playhouse.migrate import SchemaMigrator, migrate

from offgate.store.alert_ids import alert_id, alert_key
from offgate.store.bill_rollups import add_bill_rollups
from offgate.store.coaching_tables import add_coaching_events
from offgate.store.export import add_export_outbox
from offgate.store.fleet import add_fleet_quarantine, add_fleet_tables
from offgate.store.policy_tables import add_policy_tables
from offgate.store.rollup_deltas import add_inserts_to_rollups
from offgate.store.rollups import (
    add_usage_rollups,
    index_hourly_rollup_by_combination,
    key_daily_usage_by_outcome_and_note,
)
from offgate.store.workstation_tables import add_workstation_tables

Migration = Callable[[Database], None]

# Any fixed number: concurrent openers of one PostgreSQL store migrate one at a time.
POSTGRES_MIGRATION_LOCK = 0x0FF6A7E


class UsageEventRow(Model):
    """One UsageEvent; the columns are its fields, `ts` is naive UTC."""

    id = CharField(max_length=64, primary_key=True)
    ts = DateTimeField(index=True)
    source = TextField()
    route = TextField()
    provider = TextField(null=True)
    app = TextField(null=True)
    endpoint = TextField(null=True)
    host = TextField()
    method = TextField()
    path = TextField()
    model = TextField(null=True)
    streamed = BooleanField()
    status_code = IntegerField(null=True)
    prompt_tokens = BigIntegerField(null=True)
    completion_tokens = BigIntegerField(null=True)
    cached_tokens = BigIntegerField(null=True)
    cache_write_tokens = BigIntegerField(null=True)
    reasoning_tokens = BigIntegerField(null=True)
    audio_prompt_tokens = BigIntegerField(null=True)
    audio_completion_tokens = BigIntegerField(null=True)
    tokens_estimated = BooleanField()
    cost_usd = DoubleField(null=True)
    cost_note = TextField(null=True)
    provider_cost_usd = DoubleField(null=True)
    duration_ms = DoubleField(null=True)
    ttft_ms = DoubleField(null=True)
    request_bytes = BigIntegerField()
    response_bytes = BigIntegerField()
    response_id = TextField(null=True)
    litellm_call_id = TextField(null=True)
    process_name = TextField(null=True)
    pid = BigIntegerField(null=True)
    exe = TextField(null=True)
    user = TextField(null=True)
    device = TextField(null=True)
    key_fingerprint = TextField(null=True)
    parse_status = TextField()
    parse_error = TextField(null=True)
    witnesses = TextField(null=True)
    key_hint = TextField(null=True)
    policy_outcome = TextField(null=True)
    policy_rule = TextField(null=True)

    class Meta:
        table_name = "usage_event"
        # (response_id, ts): the duplicate check on every write and reconciliation's join.
        # (device, ts), (user, ts): one device's or person's calls in a central store of millions.
        indexes = ((("provider", "model"), False), (("response_id", "ts"), False), (("device", "ts"), False),
                   (("user", "ts"), False))


class SpendLogRow(Model):
    """One row of LiteLLM's `LiteLLM_SpendLogs`, as LiteLLM logged it: the columns
    reconciliation reads, plus the whole row as JSON (without messages, response and
    proxy_server_request). Times are naive UTC, as LiteLLM keeps them; `spend` is NULL
    when the row had no cost (unknown, not $0)."""

    request_id = TextField(primary_key=True)
    litellm_call_id = TextField(null=True, index=True)
    start_time = DateTimeField(index=True)
    end_time = DateTimeField(null=True)
    call_type = TextField(null=True)
    model = TextField(null=True)
    model_group = TextField(null=True)
    custom_llm_provider = TextField(null=True)
    api_base = TextField(null=True)
    api_key = TextField(null=True)
    user = TextField(null=True)
    end_user = TextField(null=True)
    team_id = TextField(null=True)
    status = TextField(null=True)
    spend = DoubleField(null=True)
    prompt_tokens = BigIntegerField()
    completion_tokens = BigIntegerField()
    total_tokens = BigIntegerField()
    source = TextField()
    raw_json = TextField(column_name="raw")  # not `raw`: that is Model.raw, peewee's raw-SQL query
    imported_at = DateTimeField()

    class Meta:
        table_name = "litellm_spend_log"


class ReconciledCallRow(Model):
    """What `offgate reconcile` decided about one UsageEvent: its class and, for managed
    calls, the spend row it matched. A spend row matches at most one call of each class."""

    event_id = TextField(primary_key=True)
    classification = TextField()
    spend_request_id = TextField(null=True, index=True)
    matched_by = TextField(null=True)
    reconciled_at = DateTimeField()

    class Meta:
        table_name = "reconciled_call"
        indexes = ((("classification", "spend_request_id"), True),)


class FindingRow(Model):
    """Something reconciliation found; the id is "<kind>:<event id or request id>", so a
    rerun replaces a finding instead of adding it twice. A finding about a call has its
    event_id; one about a spend row alone has none. `ts` is the call's time."""

    id = TextField(primary_key=True)
    kind = TextField(index=True)
    ts = DateTimeField(index=True)
    event_id = TextField(null=True)
    spend_request_id = TextField(null=True)
    model = TextField(null=True)
    our_cost_usd = DoubleField(null=True)
    logged_cost_usd = DoubleField(null=True)
    detail = TextField()
    found_at = DateTimeField()

    class Meta:
        table_name = "finding"


class AlertRow(Model):
    """One alert (offgate.store.alerts.Alert). `key` names what it is about (kind, dimension,
    entity, metric): the cooldown and deduplication go by it. `details` is JSON."""

    id = TextField(primary_key=True)
    key = TextField(index=True)
    kind = TextField()
    severity = TextField()
    dimension = TextField()
    entity = TextField()
    metric = TextField()
    ts = DateTimeField(index=True)
    statistic = DoubleField(null=True)
    baseline = DoubleField(null=True)
    p_value = DoubleField(null=True)
    q_value = DoubleField(null=True)
    message = TextField()
    details = TextField()
    raised_at = DateTimeField(index=True)
    last_seen_at = DateTimeField()
    occurrences = IntegerField()
    acked_at = DateTimeField(null=True)
    acked_by = TextField(null=True)

    class Meta:
        table_name = "alert"


class NotificationRow(Model):
    """One alert's delivery on one channel; the id is "<alert id>:<channel>"."""

    id = TextField(primary_key=True)
    alert_id = TextField(index=True)
    channel = TextField()
    status = TextField()  # "sent", "failed" (to retry) or "gave_up"
    attempts = IntegerField()
    last_attempt_at = DateTimeField()
    sent_at = DateTimeField(null=True, index=True)
    error = TextField(null=True)

    class Meta:
        table_name = "notification"


class UnreadConnectionRow(Model):
    """Connections the proxy passed through unread because their client refused its
    certificate for the host (the CA is not trusted, or the client pins certificates),
    counted per UTC day, device, user, process (name and executable) and host; `id` is
    those six as a JSON array. Times are naive UTC."""

    id = TextField(primary_key=True)
    day = DateField(index=True)
    device = TextField(null=True)
    user = TextField(null=True)
    process_name = TextField(null=True)
    exe = TextField(null=True)
    host = TextField()
    handshakes_failed = BigIntegerField()  # connections that failed: the client saw offgate's certificate
    passed_through = BigIntegerField()  # later connections, passed through untouched
    first_seen = DateTimeField()
    last_seen = DateTimeField()

    class Meta:
        table_name = "unread_connection"


class PersonRow(Model):
    """Who a workstation login is (offgate.store.people.Person); `id` is "<device>\\x1f<login>",
    the device empty for a mapping that holds on every device: one mapping each."""

    id = TextField(primary_key=True)
    login = TextField(index=True)
    device = TextField(null=True)
    litellm_user_id = TextField(null=True, index=True)
    team = TextField(null=True)
    source = TextField()  # the CSV file or the LiteLLM URL it came from
    imported_at = DateTimeField()

    class Meta:
        table_name = "person"


class ApprovalRequestRow(Model):
    """One request: a rule held someone's calls (on one model) and they need an approver."""

    id = TextField(primary_key=True)
    rule = TextField()
    reason = TextField()  # why the rule held the call, as the refusal said
    user = TextField(null=True)
    team = TextField(null=True)
    model = TextField(null=True)
    estimated_cost_usd = DoubleField(null=True)
    status = TextField(index=True)
    requested_at = DateTimeField()
    last_requested_at = DateTimeField()
    times_requested = IntegerField()
    decided_by = TextField(null=True)
    decided_at = DateTimeField(null=True)
    expires_at = DateTimeField(null=True)
    amount_usd = DoubleField(null=True)
    note = TextField(null=True)  # the approver's reason
    notified_at = DateTimeField(null=True)  # when the approvers were told of it (pending)
    decision_notified_at = DateTimeField(null=True)  # when the requester was told of its decision
    expiry_notified_at = DateTimeField(null=True)  # when the requester was told its approval expired

    class Meta:
        table_name = "approval_request"


class ApprovalAuditRow(Model):
    """One thing that happened to a request: requested, approved or denied, by whom, why."""

    seq = AutoField()
    request_id = TextField(index=True)
    at = DateTimeField()
    actor = TextField()
    action = TextField()
    detail = TextField(null=True)

    class Meta:
        table_name = "approval_audit"


class AgentLogFileRow(Model):
    """How far offgate has read one coding agent's log file. `id` is a hash of the file's
    path (no path under a home is stored); `head_hash` hashes the file's first bytes, so a
    file rewritten in place (same inode, new start) or cut short is read again from the
    start; `state` is the reader's JSON carried between reads (Codex's running totals)."""

    id = TextField(primary_key=True)
    agent = TextField()
    inode = BigIntegerField()
    size = BigIntegerField()
    offset = BigIntegerField()
    head_hash = TextField()
    state = TextField(null=True)
    records = BigIntegerField()
    read_at = DateTimeField(index=True)

    class Meta:
        table_name = "agent_log_file"


class BillLineRow(Model):
    """One line of a provider's bill: what one key cost on one UTC day for one model, with the
    tokens billed by class. `id` is the line's natural key (provider, account, day, model, key,
    line), so a re-import replaces a line instead of adding it twice. Keys appear as the
    provider's id and hint only. `cost_usd` is NULL when the source gave tokens but no cost."""

    id = TextField(primary_key=True)
    provider = TextField()
    day = DateField(index=True)
    model = TextField(null=True)
    key_id = TextField(null=True)
    key_hint = TextField(null=True)
    account = TextField(null=True)  # the project, workspace, subscription or account it was billed to
    requests = BigIntegerField(null=True)
    input_tokens = BigIntegerField()  # uncached input
    cache_read_tokens = BigIntegerField()
    cache_write_tokens = BigIntegerField()
    output_tokens = BigIntegerField()
    batch = BooleanField()
    cost_usd = DoubleField(null=True)
    source = TextField()
    imported_at = DateTimeField()

    class Meta:
        table_name = "bill_line"
        indexes = ((("provider", "day"), False),)


class GenerationCostRow(Model):
    """One OpenRouter generation's billed cost, fetched by its id (`gen-...`, the response id a
    captured call or a LiteLLM spend row carries) from `GET /api/v1/generation`: exact per call
    where the activity API is per day. Tokens are the provider's native counts."""

    id = TextField(primary_key=True)
    model = TextField(null=True)
    created_at = DateTimeField(null=True)
    native_tokens_prompt = BigIntegerField()
    native_tokens_completion = BigIntegerField()
    native_tokens_cached = BigIntegerField()
    native_tokens_reasoning = BigIntegerField()
    cost_usd = DoubleField()
    fetched_at = DateTimeField()

    class Meta:
        table_name = "generation_cost"


class SchemaVersion(Model):
    """One row per migration applied; the store's version is the highest."""

    version = IntegerField(primary_key=True)
    applied_at = DateTimeField()

    class Meta:
        table_name = "schema_version"


class SchemaTooNewError(Exception):
    def __init__(self, found: int, known: int) -> None:
        super().__init__(f"schema version {found} is newer than this offgate knows ({known})")
        self.found = found
        self.known = known


# -- the migrations: history, never edited once released ------------------------------


class _UsageEventRowV1(Model):
    """usage_event as version 1 created it, frozen: a fresh store is built as old stores
    were, then migrated like them (UsageEventRow is the table as it is now)."""

    id = CharField(max_length=64, primary_key=True)
    ts = DateTimeField(index=True)
    source = TextField()
    route = TextField()
    provider = TextField(null=True)
    app = TextField(null=True)
    endpoint = TextField(null=True)
    host = TextField()
    method = TextField()
    path = TextField()
    model = TextField(null=True)
    streamed = BooleanField()
    status_code = IntegerField(null=True)
    prompt_tokens = BigIntegerField(null=True)
    completion_tokens = BigIntegerField(null=True)
    cached_tokens = BigIntegerField(null=True)
    cache_write_tokens = BigIntegerField(null=True)
    reasoning_tokens = BigIntegerField(null=True)
    tokens_estimated = BooleanField()
    cost_usd = DoubleField(null=True)
    cost_note = TextField(null=True)
    provider_cost_usd = DoubleField(null=True)
    duration_ms = DoubleField(null=True)
    ttft_ms = DoubleField(null=True)
    request_bytes = BigIntegerField()
    response_bytes = BigIntegerField()
    response_id = TextField(null=True)
    litellm_call_id = TextField(null=True)
    process_name = TextField(null=True)
    pid = BigIntegerField(null=True)
    exe = TextField(null=True)
    user = TextField(null=True)
    device = TextField(null=True)
    key_fingerprint = TextField(null=True)
    parse_status = TextField()
    parse_error = TextField(null=True)

    class Meta:
        table_name = "usage_event"
        indexes = ((("provider", "model"), False), (("response_id", "ts"), False))


class _SpendLogRowV1(Model):
    """litellm_spend_log as version 1 created it, frozen (spend NOT NULL)."""

    request_id = TextField(primary_key=True)
    litellm_call_id = TextField(null=True, index=True)
    start_time = DateTimeField(index=True)
    end_time = DateTimeField(null=True)
    call_type = TextField(null=True)
    model = TextField(null=True)
    model_group = TextField(null=True)
    custom_llm_provider = TextField(null=True)
    api_base = TextField(null=True)
    api_key = TextField(null=True)
    user = TextField(null=True)
    end_user = TextField(null=True)
    team_id = TextField(null=True)
    status = TextField(null=True)
    spend = DoubleField()
    prompt_tokens = BigIntegerField()
    completion_tokens = BigIntegerField()
    total_tokens = BigIntegerField()
    source = TextField()
    raw_json = TextField(column_name="raw")  # not `raw`: that is Model.raw, peewee's raw-SQL query
    imported_at = DateTimeField()

    class Meta:
        table_name = "litellm_spend_log"


class _ApprovalRequestRowV9(Model):
    """approval_request as version 9 created it, frozen (without the requester's markers)."""

    id = TextField(primary_key=True)
    rule = TextField()
    reason = TextField()
    user = TextField(null=True)
    team = TextField(null=True)
    model = TextField(null=True)
    estimated_cost_usd = DoubleField(null=True)
    status = TextField(index=True)
    requested_at = DateTimeField()
    last_requested_at = DateTimeField()
    times_requested = IntegerField()
    decided_by = TextField(null=True)
    decided_at = DateTimeField(null=True)
    expires_at = DateTimeField(null=True)
    amount_usd = DoubleField(null=True)
    note = TextField(null=True)
    notified_at = DateTimeField(null=True)

    class Meta:
        table_name = "approval_request"


def create_tables(database: Database) -> None:
    for model in (_UsageEventRowV1, _SpendLogRowV1, ReconciledCallRow, FindingRow):
        SchemaManager(model, database).create_all()


def add_alerts_and_audio_tokens(database: Database) -> None:
    for model in (AlertRow, NotificationRow):
        SchemaManager(model, database).create_all()
    migrator = SchemaMigrator.from_database(database)
    migrate(*(migrator.add_column("usage_event", column, BigIntegerField(null=True))
              for column in ("audio_prompt_tokens", "audio_completion_tokens")))


def add_unread_connections(database: Database) -> None:
    SchemaManager(UnreadConnectionRow, database).create_all()


def let_spend_be_unknown(database: Database) -> None:
    migrate(SchemaMigrator.from_database(database).drop_not_null("litellm_spend_log", "spend"))


def add_people_table(database: Database) -> None:
    SchemaManager(PersonRow, database).create_all()


def index_calls_by_device_and_user(database: Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(*(migrator.add_index("usage_event", (column, "ts"), False) for column in ("device", "user")))


def add_approvals(database: Database) -> None:
    for model in (_ApprovalRequestRowV9, ApprovalAuditRow):
        SchemaManager(model, database).create_all()


def add_agent_logs(database: Database) -> None:
    SchemaManager(AgentLogFileRow, database).create_all()
    migrate(SchemaMigrator.from_database(database).add_column("usage_event", "witnesses", TextField(null=True)))


def add_bills_and_key_hints(database: Database) -> None:
    SchemaManager(BillLineRow, database).create_all()
    migrate(SchemaMigrator.from_database(database).add_column("usage_event", "key_hint", TextField(null=True)))


def index_bill_lines_by_cell(database: Database) -> None:
    # Covers the bill's totals per day, provider, model and key (BillLog.groups): SQLite reads
    # them in the index's order, without sorting a month's millions of lines or reading the table.
    columns = ("day", "provider", "model", "key_id", "key_hint", "cost_usd")
    migrate(SchemaMigrator.from_database(database).add_index("bill_line", columns, False))


def index_bill_lines_by_key(database: Database) -> None:
    # The whole lines of a few keys (the mispriced gateway cells', BillLog.lines) found by hint or
    # id, not by reading a month's millions of lines.
    migrator = SchemaMigrator.from_database(database)
    migrate(*(migrator.add_index("bill_line", (column, "day"), False) for column in ("key_hint", "key_id")))


def add_generation_costs(database: Database) -> None:
    SchemaManager(GenerationCostRow, database).create_all()


def add_policy_outcome(database: Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(*(migrator.add_column("usage_event", column, TextField(null=True))
              for column in ("policy_outcome", "policy_rule")))


def tell_requesters_of_decisions(database: Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(*(migrator.add_column("approval_request", column, DateTimeField(null=True))
              for column in ("decision_notified_at", "expiry_notified_at")))
    # Decisions taken and approvals expired before this version are old news: nobody is told of them now.
    row = ApprovalRequestRow
    row.update(decision_notified_at=row.decided_at).where(row.decided_at.is_null(False)).execute(database)
    row.update(expiry_notified_at=row.expires_at).where(
        row.expires_at <= datetime.now(UTC).replace(tzinfo=None)).execute(database)



def key_approval_requests_by_request(database: Database) -> None:
    """An approval_request alert's key names its request now (two held in one second were one
    alert): the stored ones and their deliveries take the ids their key gives them today."""
    # Only the columns this version has: a later one may add more to these tables.
    alerts = AlertRow.select(AlertRow.id, AlertRow.key, AlertRow.kind, AlertRow.details, AlertRow.ts).where(
        AlertRow.kind == "approval_request")
    for alert in alerts.execute(database):
        details: dict[str, object] = json.loads(alert.details)
        new_id = alert_id(key := alert_key(alert.key, alert.kind, details.get("request_id")), alert.ts)
        if new_id == alert.id:
            continue
        deliveries = NotificationRow.select(NotificationRow.id, NotificationRow.channel).where(
            NotificationRow.alert_id == alert.id)
        for delivery in deliveries.execute(database):
            NotificationRow.update(id=f"{new_id}:{delivery.channel}", alert_id=new_id).where(
                NotificationRow.id == delivery.id).execute(database)
        AlertRow.update(id=new_id, key=key).where(AlertRow.id == alert.id).execute(database)


MIGRATIONS: list[Migration] = [
    create_tables,
    add_alerts_and_audio_tokens,
    add_unread_connections,
    let_spend_be_unknown,
    add_fleet_tables,
    add_people_table,
    add_fleet_quarantine,
    index_calls_by_device_and_user,
    add_approvals,
    add_workstation_tables,
    add_agent_logs,
    add_export_outbox,
    add_bills_and_key_hints,
    add_coaching_events,
    add_policy_outcome,
    add_policy_tables,
    index_bill_lines_by_cell,
    add_generation_costs,
    tell_requesters_of_decisions,
    key_approval_requests_by_request,
    add_usage_rollups,
    key_daily_usage_by_outcome_and_note,
    add_inserts_to_rollups,  # after the key's columns: it adds to usage_daily by its key as it is now
    add_bill_rollups,
    index_hourly_rollup_by_combination,  # the alert round's read, in order
    index_bill_lines_by_key,
]


def read_version(database: Database) -> int:
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    return SchemaVersion.select(fn.MAX(SchemaVersion.version)).scalar(database) or 0


def upgrade(database: Database, migrations: Sequence[Migration]) -> int:
    """Bring the store to `len(migrations)`; returns the version. Safe to race: the
    migrating transaction holds a lock that other openers wait for."""
    known = len(migrations)
    version = read_version(database)
    if version == known:
        return version
    if version > known:
        raise SchemaTooNewError(version, known)
    with database.atomic():
        _lock_for_migration(database)
        SchemaManager(SchemaVersion, database).create_all()
        version = read_version(database)  # another process may have migrated meanwhile
        if version > known:
            raise SchemaTooNewError(version, known)
        for number in range(version + 1, known + 1):
            migrations[number - 1](database)
            SchemaVersion.insert(version=number, applied_at=datetime.now(UTC).replace(tzinfo=None)).execute(database)
    return known


def _lock_for_migration(database: Database) -> None:
    # SQLite needs nothing here: its transactions begin IMMEDIATE, taking the write lock.
    if isinstance(database, PostgresqlDatabase):
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_MIGRATION_LOCK,))

