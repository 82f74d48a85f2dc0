"""A batch the collector refuses never blocks a workstation's outbox: a record the collector
refuses (422) is found by halving the batch, quarantined (kept here, counted in `offgate
status` and in the admin's `offgate fleet devices`), and the rest is pushed; a batch over the
collector's size limit (413) is halved until it is taken. A refusal that is not a record's
fault (the collector refuses even an empty batch) quarantines nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.pusher import Pusher, PushFailed
from fleet.wire import MAX_BATCH_ITEMS
from offgate.config import DATABASE_FILE
from tests.support.fleet_world import Collector, central_environment, offgate
from tests.test_fleet_agent import central_devices, token, with_records

pytestmark = pytest.mark.e2e  # offgate commands and a collector as their own processes


@pytest.fixture(scope="module")
def collector(central: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    running = Collector(central, tmp_path_factory.mktemp("collector") / "home").start()
    yield running
    running.stop()


def enrolled(home: Path, collector: Collector, central: str, name: str, records: int) -> None:
    with_records(home, records, device=name)
    done = offgate(home, "enroll", collector.url, "--token", token(central), "--name", name, "--no-push")
    assert done.returncode == 0, done.stderr


def spoil(home: Path, where: str, change: str) -> None:
    """A stored record the local store took but the collector refuses (written by an older
    agent, or damaged), changed behind the triggers' back as such a record would be."""
    with sqlite3.connect(home / DATABASE_FILE) as db:
        assert db.execute(f"UPDATE usage_event SET {change} WHERE {where}").rowcount == 1
        # An update is pushed again (its trigger's entry): behind the triggers' back, it is not.
        db.execute("DELETE FROM fleet_outbox WHERE seq = (SELECT max(seq) FROM fleet_outbox)")


def test_a_record_the_collector_refuses_is_quarantined_and_the_rest_is_pushed(
        collector: Collector, central: str, tmp_path: Path) -> None:
    home = tmp_path / "dora"
    enrolled(home, collector, central, "dora-laptop", 40)
    spoil(home, "prompt_tokens = 117", "completion_tokens = -1")

    pushed = offgate(home, "push", "--once")
    assert pushed.returncode == 0, pushed.stderr
    said = " ".join(pushed.stdout.split())
    assert ("pushed 39 outbox entries in 4 batches to the collector: 39 records new there, 0 it had already, "
            "0 deleted; 0 waiting; 1 quarantined (the collector refused it: records.0.completion_tokens: Input "
            "should be greater than or equal to 0") in said
    device = central_devices(central)["dora-laptop"]
    assert (device["records_stored"], device["pending"], device["quarantined"]) == (39, 0, 1)
    listed = offgate(tmp_path, "fleet", "devices", environment={**central_environment(central), "COLUMNS": "200"})
    header = next(line for line in listed.stdout.splitlines() if "quarantined" in line)
    row = next(line for line in listed.stdout.splitlines() if "dora-laptop" in line)
    cells = dict(zip([cell.strip() for cell in header.split("┃")], [cell.strip() for cell in row.split("│")],
                     strict=True))
    assert (cells["waiting"], cells["quarantined"], cells["records"]) == ("0", "1", "39")

    status = " ".join(offgate(home, "status").stdout.split())
    assert ("quarantined: 1 outbox entries the collector refused (newest: records.0.completion_tokens: Input should "
            "be greater than or equal to 0") in status
    assert "0 outbox entries waiting" in status

    with_records(home, 3, device="dora-laptop")  # not blocked: what comes next goes out
    again = offgate(home, "push", "--once")
    assert again.returncode == 0, again.stderr
    assert "pushed 3 outbox entries in 1 batches" in again.stdout and "quarantined" not in again.stdout
    assert central_devices(central)["dora-laptop"]["records_stored"] == 42


def test_a_refusal_that_is_not_a_records_fault_quarantines_nothing(collector: Collector, central: str,
                                                                   tmp_path: Path) -> None:
    home = tmp_path / "finn"
    enrolled(home, collector, central, "finn-laptop", 3)
    pusher = Pusher(home, f"sqlite:///{home / DATABASE_FILE}")
    pusher._version = "v" * 65  # an agent whose report the collector refuses, whatever the records say
    try:
        with pytest.raises(PushFailed, match=r"the collector refused a batch \(invalid\): agent.version"):
            pusher.push_once()
    finally:
        pusher.close()
    status = " ".join(offgate(home, "status").stdout.split())
    assert "3 outbox entries waiting" in status and "quarantined" not in status


def test_a_batch_over_the_collectors_limit_is_halved_until_it_is_taken(collector: Collector, central: str,
                                                                       tmp_path: Path) -> None:
    home = tmp_path / "gus"
    enrolled(home, collector, central, "gus-laptop", MAX_BATCH_ITEMS + 1)
    refusals = collector.log.read_text().count("refused (too_large)")
    pusher = Pusher(home, f"sqlite:///{home / DATABASE_FILE}", batch_records=2 * MAX_BATCH_ITEMS)
    try:
        summary = pusher.push_once()
    finally:
        pusher.close()
    assert (summary.batches, summary.entries, summary.stored, summary.pending) == (2, MAX_BATCH_ITEMS + 1,
                                                                                   MAX_BATCH_ITEMS + 1, 0)
    assert collector.log.read_text().count("refused (too_large)") == refusals + 1  # one 413, then halves
    device = central_devices(central)["gus-laptop"]
    assert (device["records_stored"], device["quarantined"]) == (MAX_BATCH_ITEMS + 1, 0)
