"""The key-fingerprint salt and the dashboard token: made once, private, and the same for
every process, even processes that start at the same moment on a fresh home."""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from analytics.dashboard import dashboard_token
from offgate.fingerprint import SALT_FILE, load_salt
from offgate.secret_file import read_or_create, replace

RACERS = 6
ROUNDS = 20


def race(homes: list[str], start: Barrier, answers: Connection) -> None:
    """One racer: on each home in turn, at the same moment as the others, read or make both."""
    for home in homes:
        start.wait()
        found = []
        for read in (load_salt, dashboard_token):
            try:
                found.append(read(Path(home)))
            except Exception as exc:  # a failure is what the test looks for
                found.append(f"failed: {exc}")
        answers.send(found)


@pytest.mark.e2e
def test_processes_racing_on_a_fresh_home_all_get_the_one_salt_and_token(tmp_path: Path) -> None:
    homes = [tmp_path / f"home-{number}" for number in range(ROUNDS)]
    for home in homes:
        home.mkdir()
    # Not a fork of this process, which may have threads; one server imports what they use once.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["analytics.dashboard", "offgate.fingerprint"])
    start = context.Barrier(RACERS)
    pipes = [context.Pipe(duplex=False) for _ in range(RACERS)]
    racers = [context.Process(target=race, args=([str(home) for home in homes], start, sender))
              for _, sender in pipes]
    for racer in racers:
        racer.start()
    try:
        answers = [[receiver.recv() for _ in homes] for receiver, _ in pipes]
    finally:
        for racer in racers:
            racer.join(60)
    for number, home in enumerate(homes):
        salts = {answers[racer][number][0] for racer in range(RACERS)}
        tokens = {answers[racer][number][1] for racer in range(RACERS)}
        assert salts == {(home / SALT_FILE).read_bytes()} and len(salts.pop()) == 16, home
        assert tokens == {(home / "dashboard-token").read_text().strip()}, home
        assert sorted(path.name for path in home.iterdir()) == ["dashboard-token", SALT_FILE]  # no leftovers
        for name in ("dashboard-token", SALT_FILE):
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600


def test_an_existing_file_is_read_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert read_or_create(path, lambda: b"first") == b"first"
    assert read_or_create(path, lambda: b"second") == b"first"
    assert path.read_bytes() == b"first" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_replace_puts_the_new_content_whole_in_place_privately_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "fleet-credential.json"
    path.write_bytes(b"the old credential")
    path.chmod(0o644)
    replace(path, b"the new credential")
    assert path.read_bytes() == b"the new credential" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [entry.name for entry in tmp_path.iterdir()] == ["fleet-credential.json"]
