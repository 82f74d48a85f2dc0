"""`offgate system-proxy on|off|status` against throw-away settings: GNOME through the real
`gsettings` on its keyfile backend in a temporary XDG_CONFIG_HOME, KDE on a kioslaverc there
(edited by offgate itself, and by KDE's kwriteconfig5 when installed). macOS and Windows
cannot run here: their settings and commands come from pure functions, tested below."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from offgate.cli import app
from offgate.system_proxy import ProxyTarget, SystemProxyError
from offgate.system_proxy.detect import detected_name
from offgate.system_proxy.kde import decode, edit_group, encode, read_group
from offgate.system_proxy.macos import (
    auto_proxy_settings,
    bypass_setting,
    commands,
    parse_services,
    web_proxy_settings,
)
from offgate.system_proxy.macos import wanted_settings as macos_wanted
from offgate.system_proxy.windows import Windows, registry_writes
from offgate.system_proxy.windows import wanted_settings as windows_wanted
from tests.support.required import unavailable

pytestmark = pytest.mark.e2e

runner = CliRunner(env={"COLUMNS": "250"})
PAC_URL = "http://127.0.0.1:8765/proxy.pac"
GNOME_SCHEMA = Path("/usr/share/glib-2.0/schemas/org.gnome.system.proxy.gschema.xml")
PAC = ProxyTarget("pac", PAC_URL, "127.0.0.1", 8080)
MANUAL = ProxyTarget("manual", PAC_URL, "127.0.0.1", 8080)


def offgate(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), "system-proxy", *args], catch_exceptions=False)


def error_text(result: Result) -> str:
    """What the command said, its line wrapping undone (errors wrap at the terminal's width)."""
    return " ".join(result.output.split())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away XDG_CONFIG_HOME; the environment names no desktop until a test says so."""
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("XDG_CURRENT_DESKTOP", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    for name in [name for name in os.environ if name.startswith("OFFGATE_")]:
        monkeypatch.delenv(name)
    return config


# GNOME --------------------------------------------------------------------------------------


@pytest.fixture
def gnome(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("gsettings") is None or not GNOME_SCHEMA.exists():
        message = ("gsettings or GNOME's proxy schema is missing "
                   "(apt-get install libglib2.0-bin gsettings-desktop-schemas)")
        unavailable(message, f"{message}: the system-proxy tests must run in CI")
    monkeypatch.setenv("GSETTINGS_BACKEND", "keyfile")
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "ubuntu:GNOME")
    return config_home


def gsettings(*args: str) -> str:
    return subprocess.run(["gsettings", *args], check=True, capture_output=True, text=True).stdout


def gnome_proxy_settings() -> str:
    """Every key of org.gnome.system.proxy and its children, as gsettings shows them."""
    return gsettings("list-recursively", "org.gnome.system.proxy")


def set_users_own_proxy() -> None:
    """What the user had before offgate: a company proxy for HTTP and HTTPS."""
    gsettings("set", "org.gnome.system.proxy", "mode", "manual")
    gsettings("set", "org.gnome.system.proxy.http", "host", "proxy.corp.example")
    gsettings("set", "org.gnome.system.proxy.http", "port", "3128")
    gsettings("set", "org.gnome.system.proxy.https", "host", "proxy.corp.example")
    gsettings("set", "org.gnome.system.proxy.https", "port", "3128")
    gsettings("set", "org.gnome.system.proxy", "ignore-hosts", "['localhost', '*.corp.example']")


def test_gnome_status_shows_the_settings_and_that_offgate_did_not_set_them(gnome: Path, home: Path) -> None:
    result = offgate(home, "status")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "GNOME (gsettings org.gnome.system.proxy)",
        "  org.gnome.system.proxy mode: 'none'",
        "  org.gnome.system.proxy autoconfig-url: ''",
        "  org.gnome.system.proxy.http host: ''",
        "  org.gnome.system.proxy.http port: 8080",
        "  org.gnome.system.proxy.https host: ''",
        "  org.gnome.system.proxy.https port: 0",
        "  org.gnome.system.proxy ignore-hosts: ['localhost', '127.0.0.0/8', '::1']",
        "set by offgate: no",
    ]


def test_gnome_on_points_at_the_pac_file_and_off_restores_the_users_own_proxy(gnome: Path, home: Path) -> None:
    set_users_own_proxy()
    before = gnome_proxy_settings()

    on = offgate(home, "on")
    assert on.exit_code == 0, on.output
    assert on.output.splitlines()[:3] == [
        f"GNOME (gsettings org.gnome.system.proxy): PAC file {PAC_URL}",
        "  org.gnome.system.proxy mode: 'manual' -> 'auto'",
        f"  org.gnome.system.proxy autoconfig-url: '' -> '{PAC_URL}'",
    ]
    assert f"saved the previous settings in {home / 'system-proxy.json'}" in on.output
    assert gsettings("get", "org.gnome.system.proxy", "mode") == "'auto'\n"
    assert gsettings("get", "org.gnome.system.proxy", "autoconfig-url") == f"'{PAC_URL}'\n"
    status = offgate(home, "status")
    assert "  org.gnome.system.proxy mode: 'auto'" in status.output.splitlines()
    assert "set by offgate: yes (pac, since " in status.output

    off = offgate(home, "off")
    assert off.exit_code == 0, off.output
    assert off.output.splitlines() == [
        "GNOME (gsettings org.gnome.system.proxy): the settings from before `offgate system-proxy on`",
        "  org.gnome.system.proxy mode: 'auto' -> 'manual'",
        f"  org.gnome.system.proxy autoconfig-url: '{PAC_URL}' -> ''",
        f"removed {home / 'system-proxy.json'}",
    ]
    assert gnome_proxy_settings() == before
    assert not (home / "system-proxy.json").exists()
    assert "set by offgate: no" in offgate(home, "status").output


def test_gnome_manual_sets_the_interceptor_for_http_and_https_with_loopback_bypassed(
        gnome: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = gnome_proxy_settings()
    monkeypatch.setenv("OFFGATE_PROXY__LISTEN_HOST", "0.0.0.0")  # reached on loopback
    monkeypatch.setenv("OFFGATE_PROXY__LISTEN_PORT", "9090")
    on = offgate(home, "on", "--manual")
    assert on.exit_code == 0, on.output
    assert on.output.splitlines()[:6] == [
        "GNOME (gsettings org.gnome.system.proxy): HTTP and HTTPS proxy 127.0.0.1:9090",
        "  org.gnome.system.proxy mode: 'none' -> 'manual'",
        "  org.gnome.system.proxy.http host: '' -> '127.0.0.1'",
        "  org.gnome.system.proxy.http port: 8080 -> 9090",
        "  org.gnome.system.proxy.https host: '' -> '127.0.0.1'",
        "  org.gnome.system.proxy.https port: 0 -> 9090",
    ]
    assert gsettings("get", "org.gnome.system.proxy", "ignore-hosts") == "['localhost', '127.0.0.0/8', '::1']\n"
    assert offgate(home, "off").exit_code == 0
    assert gnome_proxy_settings() == before


def test_gnome_on_twice_keeps_the_first_saved_settings(gnome: Path, home: Path) -> None:
    set_users_own_proxy()
    before = gnome_proxy_settings()
    assert offgate(home, "on", "--manual").exit_code == 0
    second = offgate(home, "on")
    assert second.exit_code == 0, second.output
    assert "  org.gnome.system.proxy mode: 'manual' -> 'auto'" in second.output.splitlines()
    saved = json.loads((home / "system-proxy.json").read_text())
    assert saved["mode"] == "pac"
    assert saved["previous"]["org.gnome.system.proxy.http host"] == "'proxy.corp.example'"
    assert offgate(home, "off").exit_code == 0
    assert gnome_proxy_settings() == before


def test_gnome_dry_run_shows_the_changes_and_changes_nothing(gnome: Path, home: Path) -> None:
    before = gnome_proxy_settings()
    result = offgate(home, "on", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"GNOME (gsettings org.gnome.system.proxy): PAC file {PAC_URL}",
        "  org.gnome.system.proxy mode: 'none' -> 'auto'",
        f"  org.gnome.system.proxy autoconfig-url: '' -> '{PAC_URL}'",
        "dry run: nothing changed",
    ]
    assert gnome_proxy_settings() == before
    assert not (home / "system-proxy.json").exists()

    assert offgate(home, "on").exit_code == 0
    dry_off = offgate(home, "off", "--dry-run")
    assert "  org.gnome.system.proxy mode: 'auto' -> 'none'" in dry_off.output.splitlines()
    assert gsettings("get", "org.gnome.system.proxy", "mode") == "'auto'\n"
    assert (home / "system-proxy.json").exists()


def test_gnome_status_tells_when_the_settings_were_changed_after_on(gnome: Path, home: Path) -> None:
    assert offgate(home, "on").exit_code == 0
    gsettings("set", "org.gnome.system.proxy", "mode", "none")
    result = offgate(home, "status")
    assert "set by offgate: yes (pac, since " in result.output
    assert result.output.splitlines()[-2].endswith("but changed since: org.gnome.system.proxy mode")


def test_off_without_on_has_nothing_to_restore(gnome: Path, home: Path) -> None:
    before = gnome_proxy_settings()
    result = offgate(home, "off")
    assert result.exit_code == 0
    assert result.output == "offgate has not set the system proxy: nothing to restore\n"
    assert gnome_proxy_settings() == before


@pytest.mark.parametrize("content", ["{not json", '{"desktop": "gnome"}', '{"desktop": "gnome", "mode": "pac", '
                                     '"saved_at": "2026-01-01T00:00:00Z", "previous": [], "applied": {}}'])
def test_a_broken_state_file_is_an_error_that_changes_nothing(gnome: Path, home: Path, content: str) -> None:
    (home / "system-proxy.json").write_text(content)
    before = gnome_proxy_settings()
    for command in ("on", "off", "status"):
        result = offgate(home, command)
        assert result.exit_code == 2, result.output
        assert f"{home / 'system-proxy.json'} is not " in error_text(result)
        assert "fix or remove it; it holds the proxy settings from before" in error_text(result)
    assert gnome_proxy_settings() == before
    assert (home / "system-proxy.json").read_text() == content


def test_gnome_without_gsettings_or_its_schema_is_a_clear_error(gnome: Path, home: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "no-schemas"))
    no_schema = offgate(home, "on")
    assert no_schema.exit_code == 2
    assert "install libglib2.0-bin and gsettings-desktop-schemas" in error_text(no_schema)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    no_tool = offgate(home, "status")
    assert no_tool.exit_code == 2
    assert "gsettings not found: install libglib2.0-bin and gsettings-desktop-schemas" in error_text(no_tool)
    assert not (home / "system-proxy.json").exists()


def test_no_supported_desktop_says_what_to_do_by_hand(config_home: Path, home: Path) -> None:
    result = offgate(home, "on")
    assert result.exit_code == 2
    assert "no supported desktop found (platform linux, XDG_CURRENT_DESKTOP unset)" in error_text(result)
    assert "pass --desktop if yours uses GNOME's or KDE's settings" in error_text(result)
    assert (f"to set it by hand, enter in the network settings the automatic proxy configuration URL {PAC_URL} "
            "(served by `offgate up`) or 127.0.0.1:8080 as HTTP and HTTPS proxy with localhost bypassed; "
            "command-line tools take HTTPS_PROXY=http://127.0.0.1:8080") in error_text(result)
    assert not (home / "system-proxy.json").exists()


def test_other_platforms_backends_refuse_to_run_here(config_home: Path, home: Path) -> None:
    for desktop in ("macos", "windows"):
        result = offgate(home, "status", "--desktop", desktop)
        assert result.exit_code == 2
        assert f"the {desktop} proxy settings can only be changed on {desktop}; this is linux" in error_text(result)


def test_pac_mode_needs_a_fixed_dashboard_port(gnome: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFGATE_DASHBOARD__LISTEN_PORT", "0")
    result = offgate(home, "on")
    assert result.exit_code == 2
    assert "dashboard.listen_port is 0 (a new port each run), so the PAC URL is unknown" in error_text(result)
    assert offgate(home, "on", "--manual").exit_code == 0


def test_settings_of_another_desktop_are_restored_there_first(gnome: Path, home: Path) -> None:
    kioslaverc = gnome / "kioslaverc"
    kioslaverc.write_text(USERS_KIOSLAVERC)
    assert offgate(home, "on", "--desktop", "kde").exit_code == 0
    refused = offgate(home, "on", "--desktop", "gnome")
    assert refused.exit_code == 2
    assert ("offgate set the proxy of kde, not gnome: run `offgate system-proxy off --desktop kde` first"
            in error_text(refused))
    off = offgate(home, "off")  # the desktop offgate set, though XDG_CURRENT_DESKTOP says GNOME
    assert off.exit_code == 0, off.output
    assert kde_settings(kioslaverc) == kde_settings_of(USERS_KIOSLAVERC)


# KDE ----------------------------------------------------------------------------------------

USERS_KIOSLAVERC = """\
# written by the user's Plasma session
[$Version]
update_info=kioslave.upd:change-proxy-key-type

[Cache Settings]
MaximumCacheSize=512000

[Proxy Settings]
AuthMode=0
NoProxyFor=.corp.example
ProxyType=1
httpProxy=http://proxy.corp.example 3128
httpsProxy=http://proxy.corp.example 3128

[UserAgent]
SendLanguageInfo=true
"""


@pytest.fixture(params=["file", "kwriteconfig5"])
def kde(request: pytest.FixtureRequest, config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kioslaverc offgate changes, edited by offgate itself or by KDE's own tool."""
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "KDE")
    if request.param == "file":
        empty = tmp_path / "empty-path"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
    elif shutil.which("kwriteconfig5") is None:
        message = "kwriteconfig5 is not installed (apt-get install libkf5config-bin)"
        unavailable(message, f"{message}: the KDE system-proxy tests must run in CI")
    return config_home / "kioslaverc"


def kde_settings_of(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",), comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return {group: dict(parser[group]) for group in parser.sections()}


def kde_settings(path: Path) -> dict[str, dict[str, str]]:
    return kde_settings_of(path.read_text())


def test_kde_on_points_at_the_pac_file_and_off_restores_the_file(kde: Path, home: Path) -> None:
    kde.write_text(USERS_KIOSLAVERC)
    on = offgate(home, "on")
    assert on.exit_code == 0, on.output
    assert on.output.splitlines()[:3] == [
        f"KDE ({kde} [Proxy Settings]): PAC file {PAC_URL}",
        "  ProxyType: 1 -> 2",
        f"  Proxy Config Script: (not set) -> {PAC_URL}",
    ]
    settings = kde_settings(kde)
    assert settings["Proxy Settings"]["ProxyType"] == "2"
    assert settings["Proxy Settings"]["Proxy Config Script"] == PAC_URL
    expected_others = kde_settings_of(USERS_KIOSLAVERC)
    assert {group: keys for group, keys in settings.items() if group != "Proxy Settings"} == {
        group: keys for group, keys in expected_others.items() if group != "Proxy Settings"}
    assert "set by offgate: yes (pac, since " in offgate(home, "status").output

    off = offgate(home, "off")
    assert off.exit_code == 0, off.output
    assert off.output.splitlines()[1:3] == ["  ProxyType: 2 -> 1", f"  Proxy Config Script: {PAC_URL} -> (not set)"]
    if "empty-path" in os.environ["PATH"]:  # offgate's own edit leaves every other line as it was
        assert kde.read_text() == USERS_KIOSLAVERC
    assert kde_settings(kde) == expected_others


def test_kde_manual_writes_kdes_proxy_format(kde: Path, home: Path) -> None:
    kde.write_text(USERS_KIOSLAVERC)
    on = offgate(home, "on", "--manual")
    assert on.exit_code == 0, on.output
    assert "  httpProxy: http://proxy.corp.example 3128 -> http://127.0.0.1 8080" in on.output.splitlines()
    proxy = kde_settings(kde)["Proxy Settings"]
    assert proxy == {"AuthMode": "0", "NoProxyFor": "localhost,127.0.0.1,::1", "ProxyType": "1",
                     "httpProxy": "http://127.0.0.1 8080", "httpsProxy": "http://127.0.0.1 8080",
                     "ReversedException": "false"}
    assert offgate(home, "off").exit_code == 0
    assert kde_settings(kde) == kde_settings_of(USERS_KIOSLAVERC)


def test_kde_without_a_kioslaverc_creates_it_and_off_removes_the_keys(kde: Path, home: Path) -> None:
    assert offgate(home, "on").exit_code == 0
    assert kde_settings(kde) == {"Proxy Settings": {"ProxyType": "2", "Proxy Config Script": PAC_URL}}
    assert offgate(home, "off").exit_code == 0
    assert kde_settings(kde).get("Proxy Settings", {}) == {}


def test_a_failed_write_keeps_the_saved_settings_for_off(config_home: Path, home: Path,
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "KDE")
    monkeypatch.setenv("PATH", str(tmp_path))  # offgate edits the file itself
    kioslaverc = config_home / "kioslaverc"
    kioslaverc.write_text(USERS_KIOSLAVERC)
    blocker = config_home / "kioslaverc.offgate-partial"
    blocker.mkdir()  # where offgate writes the new file before moving it in place
    failed = offgate(home, "on")
    assert failed.exit_code == 1
    assert f"offgate: error: cannot write {blocker}" in error_text(failed)
    assert kioslaverc.read_text() == USERS_KIOSLAVERC
    saved = json.loads((home / "system-proxy.json").read_text())
    assert saved["previous"]["ProxyType"] == "1"
    blocker.rmdir()
    assert offgate(home, "on").exit_code == 0
    assert offgate(home, "off").exit_code == 0
    assert kioslaverc.read_text() == USERS_KIOSLAVERC


def test_an_unreadable_kioslaverc_is_an_error_before_anything_is_saved(config_home: Path, home: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "KDE")
    monkeypatch.setenv("PATH", str(tmp_path))
    (config_home / "kioslaverc").mkdir()
    result = offgate(home, "on")
    assert result.exit_code == 1
    assert f"cannot read {config_home / 'kioslaverc'}" in error_text(result)
    assert not (home / "system-proxy.json").exists()


def test_kde_tells_running_kde_apps_to_reread_their_proxy_settings(config_home: Path, home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("dbus-daemon") is None or shutil.which("dbus-monitor") is None:
        unavailable("dbus-daemon is not installed (apt-get install dbus)", "dbus must be installed in CI")
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "KDE")
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address"], stdout=subprocess.PIPE,
                           text=True)
    try:
        address = bus.stdout.readline().strip()  # type: ignore[union-attr]
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        monitor = subprocess.Popen(["dbus-monitor", "--address", address, "interface='org.kde.KIO.Scheduler'"],
                                   stdout=subprocess.PIPE, text=True)
        try:
            wait_for_line(monitor, "NameAcquired")  # the monitor is listening
            assert offgate(home, "on").exit_code == 0
            signal = wait_for_line(monitor, "member=reparseSlaveConfiguration")
            assert "path=/KIO/Scheduler; interface=org.kde.KIO.Scheduler" in signal
        finally:
            monitor.kill()
            monitor.wait()
    finally:
        bus.kill()
        bus.wait()


def wait_for_line(process: subprocess.Popen, text: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r}")


def test_kde_values_are_read_and_written_with_kconfig_escapes() -> None:
    assert decode(r"\sleading and trailing\s") == " leading and trailing "
    assert decode(r"C:\\path\tx") == "C:\\path\tx"
    for value in (" a ", "a\\b", "tab\there", "line\nbreak", "http://proxy 3128"):
        assert decode(encode(value)) == value
    lines = ["[Proxy Settings]", "ProxyType=1", "Weird=\\sx\\\\", "", "[Other]", "ProxyType=9"]
    assert read_group(lines)["ProxyType"] == "1"
    edited = edit_group(lines, {"ProxyType": "2", "httpProxy": " spaced", "NoProxyFor": None})
    assert edited == ["[Proxy Settings]", "ProxyType=2", "Weird=\\sx\\\\", "httpProxy=\\sspaced", "",
                      "[Other]", "ProxyType=9"]
    assert edit_group([], {"ProxyType": "2"}) == ["[Proxy Settings]", "ProxyType=2"]
    assert edit_group(["[A]", "x=1"], {"ProxyType": "2"}) == ["[A]", "x=1", "", "[Proxy Settings]", "ProxyType=2"]


# Detection, macOS and Windows (pure functions) ----------------------------------------------


@pytest.mark.parametrize(("current_desktop", "platform", "expected"), [
    ("ubuntu:GNOME", "linux", "gnome"),
    ("KDE", "linux", "kde"),
    ("X-Cinnamon", "linux", "gnome"),
    ("Budgie:GNOME", "linux", "gnome"),
    ("XFCE", "linux", "gnome"),
    ("sway", "linux", None),
    ("", "linux", None),
    ("", "darwin", "macos"),
    ("GNOME", "win32", "windows"),
])
def test_the_desktop_is_detected_like_chromium_does(current_desktop: str, platform: str,
                                                     expected: str | None) -> None:
    assert detected_name({"XDG_CURRENT_DESKTOP": current_desktop}, platform) == expected


def test_macos_reads_networksetup_answers() -> None:
    listing = "An asterisk (*) denotes that a network service is disabled.\nWi-Fi\n*Bluetooth PAN\nUSB 10/100 LAN\n"
    assert parse_services(listing) == ["Wi-Fi", "USB 10/100 LAN"]
    assert auto_proxy_settings("Wi-Fi", "URL: (null)\nEnabled: No\n") == {
        "Wi-Fi: auto proxy URL": None, "Wi-Fi: auto proxy": "off"}
    assert auto_proxy_settings("Wi-Fi", f"URL: {PAC_URL}\nEnabled: Yes\n") == {
        "Wi-Fi: auto proxy URL": PAC_URL, "Wi-Fi: auto proxy": "on"}
    answer = "Enabled: Yes\nServer: proxy.corp.example\nPort: 3128\nAuthenticated Proxy Enabled: 0\n"
    assert web_proxy_settings("Wi-Fi", "web proxy", "web proxy state", answer) == {
        "Wi-Fi: web proxy": "proxy.corp.example:3128", "Wi-Fi: web proxy state": "on"}
    assert web_proxy_settings("Wi-Fi", "web proxy", "web proxy state", "Enabled: No\nServer: \nPort: 0\n") == {
        "Wi-Fi: web proxy": None, "Wi-Fi: web proxy state": "off"}
    assert bypass_setting("Wi-Fi", "There aren't any bypass domains set on Wi-Fi.\n") == {"Wi-Fi: bypass domains": None}
    assert bypass_setting("Wi-Fi", "*.local\n169.254/16\n") == {"Wi-Fi: bypass domains": "*.local 169.254/16"}


def test_macos_commands_set_each_service_values_before_states() -> None:
    wanted = macos_wanted(["Wi-Fi"], PAC)
    assert wanted == {"Wi-Fi: auto proxy URL": PAC_URL, "Wi-Fi: auto proxy": "on", "Wi-Fi: web proxy state": "off",
                      "Wi-Fi: secure web proxy state": "off"}
    assert commands(macos_wanted(["Wi-Fi", "Ethernet"], MANUAL)) == [
        ["networksetup", "-setwebproxy", "Wi-Fi", "127.0.0.1", "8080"],
        ["networksetup", "-setwebproxy", "Ethernet", "127.0.0.1", "8080"],
        ["networksetup", "-setsecurewebproxy", "Wi-Fi", "127.0.0.1", "8080"],
        ["networksetup", "-setsecurewebproxy", "Ethernet", "127.0.0.1", "8080"],
        ["networksetup", "-setproxybypassdomains", "Wi-Fi", "localhost", "127.0.0.1", "::1"],
        ["networksetup", "-setproxybypassdomains", "Ethernet", "localhost", "127.0.0.1", "::1"],
        ["networksetup", "-setautoproxystate", "Wi-Fi", "off"],
        ["networksetup", "-setautoproxystate", "Ethernet", "off"],
        ["networksetup", "-setwebproxystate", "Wi-Fi", "on"],
        ["networksetup", "-setwebproxystate", "Ethernet", "on"],
        ["networksetup", "-setsecurewebproxystate", "Wi-Fi", "on"],
        ["networksetup", "-setsecurewebproxystate", "Ethernet", "on"],
    ]
    # Restoring a service that had no proxy: a URL cannot be blanked, its state goes off.
    assert commands({"Wi-Fi: auto proxy URL": None, "Wi-Fi: auto proxy": "off", "Wi-Fi: bypass domains": None}) == [
        ["networksetup", "-setproxybypassdomains", "Wi-Fi", "Empty"],
        ["networksetup", "-setautoproxystate", "Wi-Fi", "off"],
    ]


def test_windows_registry_values() -> None:
    assert windows_wanted(PAC) == {"AutoConfigURL": PAC_URL, "ProxyEnable": "0"}
    manual = windows_wanted(MANUAL)
    assert manual == {"AutoConfigURL": None, "ProxyEnable": "1",
                      "ProxyServer": "http=127.0.0.1:8080;https=127.0.0.1:8080",
                      "ProxyOverride": "localhost;127.*;[::1];<local>"}
    assert registry_writes(manual) == [
        ("AutoConfigURL", "delete", None),
        ("ProxyEnable", "REG_DWORD", 1),
        ("ProxyServer", "REG_SZ", "http=127.0.0.1:8080;https=127.0.0.1:8080"),
        ("ProxyOverride", "REG_SZ", "localhost;127.*;[::1];<local>"),
    ]
    ipv6 = windows_wanted(ProxyTarget("manual", PAC_URL, "::1", 8080))
    assert ipv6["ProxyServer"] == "http=[::1]:8080;https=[::1]:8080"


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has the registry")
def test_windows_backend_elsewhere_says_it_needs_windows() -> None:
    with pytest.raises(SystemProxyError, match="^the Windows proxy settings can only be read on Windows$"):
        Windows().read()
    with pytest.raises(SystemProxyError, match="^the Windows proxy settings can only be changed on Windows$"):
        Windows().write({"ProxyEnable": "0"})
