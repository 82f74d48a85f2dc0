"""The fleet: workstations' agents push their records to a collector in front of PostgreSQL.

- `wire`: what agent and collector say to each other (validated both ways, unknown fields refused);
- `credentials`: enrolment tokens and device credentials, and the hashes that are all the database keeps;
- `registry`: tokens and devices in the central database (the admin commands and the collector);
- `ingest`: one pushed batch into the central database, in one transaction;
- `collector`: `offgate serve`, the stateless aiohttp service;
- `outbox`: on a workstation, the records waiting to be pushed (a table filled by triggers);
- `enrolment`: on a workstation, the exchange of a token for a credential, kept 0600 in the home;
- `transport`: the agent's HTTPS client (system trust store or a CA file; plain http to loopback only);
- `pusher`: reads the outbox in batches and pushes them, with backoff; `running`: what runs here.

It imports `offgate` only; `offgate.cli` imports it lazily, inside the commands.
"""

OFFGATE_ROOM = "fleet"  # offgate.installation checks this is offgate's own package
