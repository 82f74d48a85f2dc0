"""`offgate certs install|uninstall|status` against throw-away trust stores: real NSS databases
(certutil) in a fake HOME with Chromium's database and Firefox profiles, the system store
through Debian's real update-ca-certificates pointed at throw-away folders, and headless
Chromium proving the trust is real. The macOS and Windows stores are checked through the
commands they would run (they have not run on those systems here)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from mitmproxy.certs import CertStore
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from certs import macos, windows
from certs.linux import DEBIAN, FEDORA, SystemLayout, SystemStore, firefox_profiles
from certs.machine import Machine
from certs.trust import CA, STATE_FILE, Copy, Plan, Run, StateFile, TrustError, find_tool, install, uninstall
from interceptor.ca import ensure_ca
from offgate.demo.threaded_server import ThreadedServer
from tests.support.required import unavailable
from tests.support.web_apps import ThrowawayCA, require, trust_in_nss

# Most tests here run the real certutil on NSS databases.
pytestmark = pytest.mark.e2e

NOBODY = 65534
PAGE_TITLE = "offgate trust check"


# -- a throw-away user: HOME with Chromium's NSS database and Firefox profiles ----------------------


@dataclasses.dataclass
class User:
    home: Path  # HOME
    offgate_home: Path
    unrelated_ca: Path  # trusted by hand in the default Firefox profile; must survive uninstall

    @property
    def chromium_db(self) -> Path:
        return self.home / ".pki" / "nssdb"

    @property
    def firefox(self) -> Path:
        return self.home / ".mozilla" / "firefox"

    @property
    def default_profile(self) -> Path:
        return self.firefox / "abcd1234.default-release"

    @property
    def work_profile(self) -> Path:
        return self.home / "elsewhere" / "work-profile"

    @property
    def state(self) -> Path:
        return self.offgate_home / STATE_FILE

    def ca(self) -> CA:
        return CA.load(self.offgate_home / "ca" / "mitmproxy-ca-cert.pem")

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "offgate", *args]

    def run(self, *args: str, path: str | None = None, argv: list[str] | None = None) -> subprocess.CompletedProcess:
        # Wide, so that error messages are not folded.
        env = {**os.environ, "HOME": str(self.home), "OFFGATE_HOME": str(self.offgate_home), "COLUMNS": "1000"}
        if path is not None:
            env["PATH"] = path
        return subprocess.run(argv or self.command(*args), env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def certutil() -> str:
    return require("certutil")


@pytest.fixture
def user(certutil: str) -> Iterator[User]:
    # Not under pytest's own (private) folder: an unprivileged user must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="offgate-certs-"))
    base.chmod(0o755)
    try:
        yield make_user(base, certutil)
    finally:
        shutil.rmtree(base)


def make_user(base: Path, certutil: str) -> User:
    made = User(base / "home", base / "offgate-home", ThrowawayCA.make(base / "corp", ["corp.test"]).ca_pem)
    made.firefox.mkdir(parents=True)
    (made.firefox / "profiles.ini").write_text(
        "[Install4F96D1932A9F858E]\nDefault=abcd1234.default-release\nLocked=1\n\n"
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd1234.default-release\nDefault=1\n\n"
        f"[Profile1]\nName=work\nIsRelative=0\nPath={made.work_profile}\n\n"
        "[Profile2]\nName=never-started\nIsRelative=1\nPath=efgh5678.never-started\n\n"
        "[General]\nStartWithLastProfile=1\nVersion=2\n")
    trust_in_nss(made.default_profile, made.unrelated_ca, "corp proxy CA")
    make_nss_db(certutil, made.work_profile)
    (made.firefox / "efgh5678.never-started").mkdir()
    return made


def make_nss_db(certutil: str, path: Path) -> None:
    path.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{path}", "-N", "--empty-password"], check=True)


def nss_listing(certutil: str, database: Path) -> dict[str, str]:
    """{nickname: trust flags} as `certutil -L` lists them."""
    listing = subprocess.run([certutil, "-d", f"sql:{database}", "-L"], capture_output=True, text=True, check=True)
    rows = [line.rsplit(None, 1) for line in listing.stdout.splitlines()[4:] if line.strip()]
    return {nickname.strip(): trust for nickname, trust in rows}


def where(database: Path, label: str) -> str:
    return f"NSS database {database} ({label})"


def unprivileged(argv: list[str], writable: list[Path]) -> list[str]:
    """`argv` run by a user who may write only in `writable`: root becomes nobody, keeping the
    right to read (to start this checkout's Python); anyone else is unprivileged already."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("setpriv is not installed (util-linux)", "setpriv (util-linux) is needed to drop root in CI")
    for folder in writable:
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *argv]


# -- NSS databases through the command ----------------------------------------------------------------


def test_install_makes_the_ca_and_trusts_it_in_every_nss_database(user: User, certutil: str) -> None:
    done = user.run("certs", "install", "--no-system")
    assert done.returncode == 0, done.stderr
    ca = user.ca()  # made by the install: there was none
    assert (user.offgate_home / "ca" / "mitmproxy-ca.pem").exists()
    nickname = f"offgate CA {ca.sha256[:16]}"
    assert nss_listing(certutil, user.chromium_db) == {nickname: "C,,"}
    assert nss_listing(certutil, user.default_profile) == {"corp proxy CA": "C,,", nickname: "C,,"}
    assert nss_listing(certutil, user.work_profile) == {nickname: "C,,"}

    add = shlex.join([certutil, "-d", f"sql:{user.chromium_db}", "-A", "-t", "C,,", "-n", nickname, "-i", str(ca.path)])
    assert done.stdout.splitlines() == [
        f"CA {ca.path} (SHA-256 {ca.sha256})",
        f"{where(user.firefox / 'efgh5678.never-started', 'Firefox profile never-started')}: skipped, "
        "no cert9.db yet (start the browser once with it)",
        where(user.chromium_db, "Chromium, Chrome, Brave, Edge"),
        f"  run: make the folder {user.chromium_db}",
        f"  run: {shlex.join([certutil, '-d', f'sql:{user.chromium_db}', '-N', '--empty-password'])}",
        f"  run: {add}",
        "  trusted",
        where(user.default_profile, "Firefox profile default-release"),
        f"  run: {shlex.join([certutil, '-d', f'sql:{user.default_profile}', '-A', '-t', 'C,,', '-n', nickname,
                              '-i', str(ca.path)])}",
        "  trusted",
        where(user.work_profile, "Firefox profile work"),
        f"  run: {shlex.join([certutil, '-d', f'sql:{user.work_profile}', '-A', '-t', 'C,,', '-n', nickname,
                              '-i', str(ca.path)])}",
        "  trusted",
        f"recorded in {user.state}; `offgate certs uninstall` undoes it",
    ]
    recorded = json.loads(user.state.read_text())
    assert recorded["version"] == 1
    assert [(e["store"], e["database"], e["nickname"]) for e in recorded["entries"]] == [
        ("nss", str(db), nickname) for db in (user.chromium_db, user.default_profile, user.work_profile)]


def test_install_twice_is_harmless(user: User, certutil: str) -> None:
    assert user.run("certs", "install", "--no-system").returncode == 0
    recorded = user.state.read_text()
    again = user.run("certs", "install", "--no-system")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("  already trusted") == 3
    assert "run:" not in again.stdout
    assert user.state.read_text() == recorded
    assert len(nss_listing(certutil, user.default_profile)) == 2


def test_install_records_again_what_a_lost_record_forgot(user: User) -> None:
    assert user.run("certs", "install", "--no-system").returncode == 0
    recorded = user.state.read_text()
    user.state.unlink()
    again = user.run("certs", "install", "--no-system")
    assert again.returncode == 0, again.stderr
    assert user.state.read_text() == recorded


def test_uninstall_removes_exactly_ours_and_keeps_the_other_certificates(user: User, certutil: str) -> None:
    assert user.run("certs", "install", "--no-system").returncode == 0
    nickname = user.ca().nickname
    done = user.run("certs", "uninstall")
    assert done.returncode == 0, done.stderr
    assert nss_listing(certutil, user.chromium_db) == {}
    assert nss_listing(certutil, user.default_profile) == {"corp proxy CA": "C,,"}
    assert nss_listing(certutil, user.work_profile) == {}
    assert not user.state.exists()
    assert done.stdout.splitlines()[:3] == [
        where(user.chromium_db, "Chromium, Chrome, Brave, Edge"),
        f"  run: {shlex.join([certutil, '-d', f'sql:{user.chromium_db}', '-D', '-n', nickname])}",
        "  removed",
    ]
    assert done.stdout.count("  removed") == 3


def test_uninstall_tolerates_a_certificate_removed_by_hand(user: User, certutil: str) -> None:
    assert user.run("certs", "install", "--no-system").returncode == 0
    subprocess.run([certutil, "-d", f"sql:{user.work_profile}", "-D", "-n", user.ca().nickname], check=True)
    done = user.run("certs", "uninstall")
    assert done.returncode == 0, done.stderr
    assert f"{where(user.work_profile, 'Firefox profile work')}\n  already removed\n" in done.stdout
    assert done.stdout.count("  removed") == 2
    assert not user.state.exists()


def test_uninstall_with_nothing_installed_says_so(user: User) -> None:
    done = user.run("certs", "uninstall")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"nothing to uninstall: no store is recorded in {user.state}\n"


def test_dry_run_prints_the_actions_and_changes_nothing(user: User, certutil: str) -> None:
    done = user.run("certs", "install", "--no-system", "--dry-run")
    assert done.returncode == 0, done.stderr
    nickname = user.ca().nickname
    assert f"  would run: make the folder {user.chromium_db}\n" in done.stdout
    assert (f"  would run: {shlex.join([certutil, '-d', f'sql:{user.work_profile}', '-A', '-t', 'C,,', '-n',
                                        nickname, '-i', str(user.ca().path)])}\n  would be trusted\n") in done.stdout
    assert not user.chromium_db.exists()
    assert nss_listing(certutil, user.work_profile) == {}
    assert not user.state.exists()


def test_status_says_per_store_whether_the_ca_is_trusted(user: User, certutil: str) -> None:
    before = user.run("certs", "status")
    assert before.returncode == 0, before.stderr
    assert before.stdout == ("CA not made yet: `offgate certs install` makes and trusts it\n"
                             f"recorded by install in {user.state}: none\n")
    assert user.run("certs", "install", "--no-system").returncode == 0
    subprocess.run([certutil, "-d", f"sql:{user.work_profile}", "-D", "-n", user.ca().nickname], check=True)
    after = user.run("certs", "status")
    assert after.returncode == 0, after.stderr
    lines = after.stdout.splitlines()
    assert f"trusted      {where(user.chromium_db, 'Chromium, Chrome, Brave, Edge')}" in lines
    assert f"trusted      {where(user.default_profile, 'Firefox profile default-release')}" in lines
    assert f"not trusted  {where(user.work_profile, 'Firefox profile work')}" in lines
    assert f"recorded by install in {user.state}: 3" in lines


# -- error paths ------------------------------------------------------------------------------------------


def test_without_certutil_the_message_names_the_package(user: User, tmp_path: Path) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    done = user.run("certs", "install", "--no-system", path=str(empty))
    assert done.returncode == 1
    assert ("  failed: certutil (the NSS tool) is not installed: `sudo apt-get install libnss3-tools` "
            "(Fedora: `sudo dnf install nss-tools`)") in done.stdout
    assert "offgate: error: 3 of 3 stores were not changed (see above)" in done.stderr
    assert not user.chromium_db.exists()
    assert not user.state.exists()


@pytest.mark.parametrize("command", [["install", "--no-system"], ["uninstall"], ["status"]])
def test_a_corrupt_state_file_is_reported_and_kept(user: User, command: list[str]) -> None:
    user.offgate_home.mkdir(parents=True)
    user.state.write_text('{"version": 1, "entries": [{"store": "nss", ')
    done = user.run("certs", *command)
    assert done.returncode == 2
    assert f"offgate: error: {user.state} is not offgate's record of trusted stores (not JSON:" in done.stderr
    assert "fix it, or delete it and remove the offgate CA by hand (see certs/README.md)" in done.stderr
    assert user.state.read_text() == '{"version": 1, "entries": [{"store": "nss", '
    assert not user.chromium_db.exists()


def test_a_ca_file_that_is_not_a_certificate_is_reported(user: User) -> None:
    user.run("certs", "path")
    cert = user.offgate_home / "ca" / "mitmproxy-ca-cert.pem"
    cert.write_text("not a certificate")
    done = user.run("certs", "install", "--no-system")
    assert done.returncode == 2
    assert f"offgate: error: {cert} is not a PEM certificate:" in done.stderr
    assert not user.chromium_db.exists()


def test_a_record_that_cannot_be_written_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    state = StateFile(tmp_path / "a-file" / STATE_FILE)
    with pytest.raises(TrustError, match=r"cannot write .*: Not a directory; it may not match the stores any more"):
        state.save([{"store": "nss"}])


def test_a_record_offgate_cannot_undo_stays_recorded(user: User) -> None:
    assert user.run("certs", "install", "--no-system").returncode == 0
    recorded = json.loads(user.state.read_text())
    strangers = [{"store": "floppy"}, {"store": "linux-system", "layout": "Debian/Ubuntu", "file": "../../etc/passwd"}]
    user.state.write_text(json.dumps({"version": 1, "entries": recorded["entries"][:1] + strangers}))
    done = user.run("certs", "uninstall", "--no-system")
    assert done.returncode == 1
    assert f"recorded entry {json.dumps(strangers[0])}\n  failed: unknown store 'floppy'\n" in done.stdout
    assert json.loads(user.state.read_text())["entries"] == strangers
    assert "2 still recorded in" in done.stdout


def test_a_profile_this_user_cannot_write_fails_alone(user: User, certutil: str) -> None:
    user.run("certs", "path")  # the CA exists before the user loses their rights
    argv = unprivileged(user.command("certs", "install", "--no-system"), [user.home, user.offgate_home])
    user.work_profile.chmod(0o555)
    try:
        done = user.run(argv=argv)
    finally:
        user.work_profile.chmod(0o755)
    assert done.returncode == 1
    assert (f"{where(user.work_profile, 'Firefox profile work')}\n"
            f"  failed: cannot write {user.work_profile}: this user may not change it\n") in done.stdout
    assert "offgate: error: 1 of 3 stores were not changed (see above)" in done.stderr
    assert nss_listing(certutil, user.work_profile) == {}
    assert nss_listing(certutil, user.chromium_db) == {user.ca().nickname: "C,,"}
    entries = json.loads(user.state.read_text())["entries"]
    assert [e["database"] for e in entries] == [str(user.chromium_db), str(user.default_profile)]


def test_the_system_store_without_root_prints_the_sudo_command(user: User) -> None:
    layout = Machine.current().system_layout
    if layout is None:
        unavailable("neither update-ca-certificates nor update-ca-trust is installed",
                    "update-ca-certificates (package ca-certificates) must be installed in CI")
    user.run("certs", "path")
    argv = unprivileged(user.command("certs", "install", "--system", "--no-nss"), [user.offgate_home])
    done = user.run(argv=argv)
    assert done.returncode == 1
    assert (f"system trust store ({layout.name}, {layout.anchors})\n"
            f"  needs root: only root can write {layout.anchors}\n") in done.stdout
    again = shlex.join([sys.executable, "-m", "offgate", "--home", str(user.offgate_home), "certs", "install",
                        "--system", "--no-user"])
    assert f"offgate: the system store needs root; run: sudo {again}\n" in done.stderr
    assert not user.state.exists()


# -- the system store with update-ca-certificates on throw-away folders ---------------------------------


@pytest.fixture
def debian_layout(tmp_path: Path) -> SystemLayout:
    """A copy of Debian's layout in tmp_path: two distribution CAs listed in ca-certificates.conf,
    the bundle already built from them."""
    tool = find_tool("update-ca-certificates")
    if tool is None:
        unavailable("update-ca-certificates is not installed", "update-ca-certificates must be installed in CI")
    root = tmp_path / "system"
    shipped = root / "usr-share-ca-certificates"
    (shipped / "test").mkdir(parents=True)
    for name in ("alpha", "beta"):
        shutil.copy(ThrowawayCA.make(tmp_path / name, [f"{name}.test"]).ca_pem, shipped / "test" / f"{name}.crt")
    conf = root / "ca-certificates.conf"
    conf.write_text("test/alpha.crt\ntest/beta.crt\n")
    local, etc, hooks = root / "local-ca-certificates", root / "etc-ssl-certs", root / "update.d"
    for folder in (local, etc, hooks):
        folder.mkdir()
    flags = ("--certsconf", str(conf), "--certsdir", str(shipped), "--localcertsdir", str(local),
             "--etccertsdir", str(etc), "--hooksdir", str(hooks))
    layout = dataclasses.replace(DEBIAN, anchors=local, bundle=etc / "ca-certificates.crt",
                                 update=(tool, *flags), refresh=(tool, "--fresh", *flags))
    subprocess.run(layout.update, check=True, capture_output=True)
    return layout


def test_the_system_store_bundle_gains_the_ca_and_loses_it_again(tmp_path: Path, debian_layout: SystemLayout) -> None:
    ca = CA.load(ensure_ca(tmp_path / "offgate-home"))
    before = debian_layout.bundle.read_bytes()
    links_before = sorted(path.name for path in debian_layout.bundle.parent.iterdir())
    machine = Machine("linux", tmp_path / "home", debian_layout, None)
    plan = machine.plan(system=True, user=False)
    state = StateFile(tmp_path / STATE_FILE)
    said: list[str] = []

    assert [o.done for o in install(ca, plan, state, say=said.append)] == [True]
    ours = debian_layout.anchors / f"offgate-{ca.sha256[:16]}.crt"
    assert debian_layout.bundle.read_bytes() == before + ca.path.read_bytes()
    assert (debian_layout.bundle.parent / f"offgate-{ca.sha256[:16]}.pem").resolve() == ours
    assert said == [f"system trust store (Debian/Ubuntu, {debian_layout.anchors})",
                    f"  run: copy {ca.path} to {ours}", f"  run: {shlex.join(debian_layout.update)}", "  trusted"]
    assert state.load() == [{"store": "linux-system", "layout": "Debian/Ubuntu", "file": ours.name,
                             "sha256": ca.sha256}]

    assert [o.done for o in uninstall(state, machine.store_for, say=said.append)] == [True]
    assert debian_layout.bundle.read_bytes() == before
    assert not ours.exists()
    assert sorted(path.name for path in debian_layout.bundle.parent.iterdir()) == links_before  # no dangling link
    assert not state.path.exists()


def test_the_system_store_only_removes_offgates_own_file(tmp_path: Path, debian_layout: SystemLayout) -> None:
    victim = debian_layout.anchors / "corporate.crt"
    victim.write_text("kept")
    state = StateFile(tmp_path / STATE_FILE)
    state.save([{"store": "linux-system", "layout": "Debian/Ubuntu", "file": "corporate.crt"}])
    said: list[str] = []
    outcomes = uninstall(state, Machine("linux", tmp_path, debian_layout, None).store_for, say=said.append)
    assert [o.done for o in outcomes] == [False]
    assert said[-1] == ("  failed: the record names corporate.crt in Debian/Ubuntu's store, which is not "
                        "offgate's file in this machine's store (Debian/Ubuntu)")
    assert victim.read_text() == "kept"
    assert len(state.load()) == 1


def test_fedora_copies_to_the_anchors_and_extracts(tmp_path: Path) -> None:
    ca = CA(tmp_path / "ca.pem", b"not parsed here")
    copy, update = SystemStore(FEDORA).install_actions(ca)
    assert copy == Copy(ca.path, Path(f"/etc/pki/ca-trust/source/anchors/offgate-{ca.sha256[:16]}.pem"))
    assert isinstance(update, Run)
    assert (Path(update.argv[0]).name, update.argv[1:]) == ("update-ca-trust", ("extract",))


# -- the trust is real: Chromium loads a page signed by the CA only while it is installed ------------------


@pytest.mark.browser
def test_chromium_trusts_a_leaf_signed_by_the_ca_only_while_installed(user: User, tmp_path: Path) -> None:
    chromium = require("chromium")
    assert user.run("certs", "install", "--no-system").returncode == 0
    server = ThreadedServer(leaf_context(user.offgate_home / "ca", tmp_path / "leaf"))
    app = web.Application()
    app.router.add_get("/", page)
    port = server.serve(app)
    url = f"https://127.0.0.1:{port}/"
    try:
        assert load_in_chromium(chromium, user, url, tmp_path / "profile-installed") == PAGE_TITLE
        assert user.run("certs", "uninstall").returncode == 0
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            load_in_chromium(chromium, user, url, tmp_path / "profile-uninstalled")
    finally:
        server.stop()


async def page(request: web.Request) -> web.Response:
    return web.Response(text=f"<title>{PAGE_TITLE}</title><p>served over TLS</p>", content_type="text/html")


def leaf_context(ca_dir: Path, directory: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 that the offgate CA signed, as the proxy would."""
    leaf = CertStore.from_store(ca_dir, "mitmproxy", 2048).get_cert(
        "127.0.0.1", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    directory.mkdir()
    (directory / "cert.pem").write_bytes(leaf.cert.to_pem())
    (directory / "key.pem").write_bytes(leaf.privatekey.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


def load_in_chromium(chromium: str, user: User, url: str, profile: Path) -> str:
    """The page's title in a fresh headless Chromium whose HOME is the user's (so its NSS database)."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True,
            env={**os.environ, "HOME": str(user.home)})
        try:
            page = context.new_page()
            page.goto(url)
            return page.title()
        finally:
            context.close()


# -- macOS and Windows: the commands they would run ---------------------------------------------------------


def test_macos_commands() -> None:
    ca_path, sha1 = Path("/Users/ana/offgate/ca/mitmproxy-ca-cert.pem"), "3f2a" * 10
    login = macos.keychain_for(Path("/Users/ana"), admin=False)
    assert login == Path("/Users/ana/Library/Keychains/login.keychain-db")
    assert macos.add_command(ca_path, login, admin=False) == (
        "security", "add-trusted-cert", "-r", "trustRoot", "-k", str(login), str(ca_path))
    assert macos.add_command(ca_path, macos.SYSTEM_KEYCHAIN, admin=True) == (
        "security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", "/Library/Keychains/System.keychain",
        str(ca_path))
    assert macos.delete_command(sha1, login, admin=False) == (
        "security", "delete-certificate", "-Z", sha1.upper(), "-t", str(login))
    assert macos.delete_command(sha1, macos.SYSTEM_KEYCHAIN, admin=True) == (
        "security", "delete-certificate", "-Z", sha1.upper(), "/Library/Keychains/System.keychain")
    found = f'keychain: "{login}"\nSHA-256 hash: ...\nSHA-1 hash: {sha1.upper()}\nclass: 0x80001000\n'
    assert macos.listed(found, sha1)
    assert not macos.listed(found, "0" * 40)


def test_windows_commands() -> None:
    ca_path, sha1 = Path(r"C:\Users\ana\offgate\ca\mitmproxy-ca-cert.pem"), "3f2a" * 10
    assert windows.add_command(ca_path, machine=False) == ("certutil", "-user", "-addstore", "Root", str(ca_path))
    assert windows.add_command(ca_path, machine=True) == ("certutil", "-addstore", "Root", str(ca_path))
    assert windows.delete_command(sha1, machine=False) == ("certutil", "-user", "-delstore", "Root", sha1)
    assert windows.find_command(sha1, machine=True) == ("certutil", "-store", "Root", sha1)


@pytest.mark.parametrize(("platform", "expected"), [
    ("darwin", ["System keychain /Library/Keychains/System.keychain",
                "login keychain /Users/ana/Library/Keychains/login.keychain-db"]),
    ("win32", ["Windows machine Root store", "Windows user Root store"]),
])
def test_macos_and_windows_plans_round_trip_through_the_record(platform: str, expected: list[str]) -> None:
    machine = Machine(platform, Path("/Users/ana"))
    ca = CA(Path("/Users/ana/ca.pem"), b"der")
    stores = machine.plan(system=True, user=True).stores
    assert [store.where for store in stores] == expected
    assert [machine.store_for(store.entry(ca)).where for store in stores] == expected
    assert [store.where for store in machine.plan(system=False, user=True).stores] == expected[1:]


def test_an_unknown_platform_is_refused_clearly() -> None:
    with pytest.raises(TrustError, match="offgate cannot trust its CA on sunos5: see certs/README.md"):
        Machine("sunos5", Path("/home/ana")).plan(system=True, user=True)


# -- finding Firefox profiles ---------------------------------------------------------------------------------


def test_firefox_profiles_in_every_known_place_and_a_broken_profiles_ini(tmp_path: Path) -> None:
    snap = tmp_path / "snap/firefox/common/.mozilla/firefox"
    snap.mkdir(parents=True)
    (snap / "profiles.ini").write_text("[Profile0]\nName=snappy\nIsRelative=1\nPath=x.snappy\n")
    flatpak = tmp_path / ".var/app/org.mozilla.firefox/.mozilla/firefox"
    flatpak.mkdir(parents=True)
    (flatpak / "profiles.ini").write_text("Path=no section header\n")
    notes: list[str] = []
    assert firefox_profiles(tmp_path, notes) == [("snappy", snap / "x.snappy")]
    assert len(notes) == 1
    assert notes[0].startswith(f"{flatpak / 'profiles.ini'}: skipped, cannot read it (")


def test_an_empty_plan_changes_nothing(tmp_path: Path) -> None:
    state = StateFile(tmp_path / STATE_FILE)
    assert install(CA(tmp_path / "ca.pem", b"der"), Plan([]), state, say=print) == []
    assert not state.path.exists()
