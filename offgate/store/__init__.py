"""offgate's store: one module per job, over one database (SQLite or PostgreSQL).

    core            Store: open and upgrade, errors (StoreError), the usage events' front door
    schema          the tables and their migrations
    events          usage_event writes (by the duplicate rule in same_call) and reads
    spend           LiteLLM's spend rows
    reconciliation  what reconciliation read and decided: calls as columns, results, findings
    queries         the report's group-bys and the dashboard's feed, as typed rows
    alerts          alerts raised and acknowledged, and the unmanaged series they watch
    unread          connections the proxy could not read
    fleet           the fleet's tables: enrolment tokens and devices (central), the outbox (workstation)
    sql             query pieces the modules share
    driver          peewee, with PostgreSQL's driver loaded when a PostgreSQL store opens
"""

import offgate.store.driver  # noqa: F401  # pyright: ignore[reportUnusedImport] - first: peewee without its drivers
from offgate.store.core import Store, StoreError
from offgate.store.sql import naive_utc

__all__ = ["Store", "StoreError", "naive_utc"]
