from __future__ import annotations

import os
import re
import socket
import stat
import sys
from pathlib import Path

import platformdirs
import pytest

from offgate.config import (
    ConfigError,
    DeviceSettings,
    Settings,
    database_url_for,
    device_name,
    load_settings,
    redact_url,
    resolve_home,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OFFGATE_* variable from the calling shell leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("OFFGATE_"):
            monkeypatch.delenv(name)


def write_config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- home -----------------------------------------------------------------------------


def test_home_given_explicitly_wins_and_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFGATE_HOME", str(tmp_path / "from-env"))
    home = resolve_home(tmp_path / "explicit" / "home")
    assert home == tmp_path / "explicit" / "home"
    assert home.is_dir()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert not (tmp_path / "from-env").exists()


def test_home_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFGATE_HOME", str(tmp_path / "from-env"))
    assert resolve_home(None) == tmp_path / "from-env"


@pytest.mark.skipif(sys.platform == "win32", reason="the user data dir comes from the Windows shell, not $HOME")
def test_home_defaults_to_the_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # macOS: ~/Library/Application Support
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # Linux
    home = resolve_home(None)
    assert home == Path(platformdirs.user_data_dir("offgate"))
    assert tmp_path in home.parents
    assert home.is_dir()


def test_an_existing_home_is_used_as_it_is(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    assert resolve_home(tmp_path) == tmp_path
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_a_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    with pytest.raises(ConfigError, match=re.escape(f"home {file} exists but is not a directory")):
        resolve_home(file)


def test_a_home_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    with pytest.raises(ConfigError, match=re.escape(f"cannot create home {file / 'home'}: Not a directory")):
        resolve_home(file / "home")


def test_a_home_that_is_not_writable_is_refused(tmp_path: Path) -> None:
    # Root writes anywhere a mode allows nothing, but not in /proc's process folders.
    home = Path("/proc/self") if os.geteuid() == 0 else tmp_path / "read-only"
    home.mkdir(mode=0o500, exist_ok=True)
    with pytest.raises(ConfigError, match=re.escape(f"home {home} is not writable")):
        resolve_home(home)


# -- settings -------------------------------------------------------------------------


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings == Settings()
    assert settings.database_url is None
    assert (settings.proxy.listen_host, settings.proxy.listen_port, settings.proxy.gateways) == ("127.0.0.1", 8080, [])
    assert settings.device.name is None


def test_environment_beats_the_file_and_overrides_beat_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, """
database_url = "postgresql://offgate@db/offgate"

[proxy]
listen_host = "0.0.0.0"
listen_port = 9000
gateways = ["https://litellm.example.com"]

[device]
name = "alice-laptop"
""")
    monkeypatch.setenv("OFFGATE_PROXY__LISTEN_PORT", "9100")
    monkeypatch.setenv("OFFGATE_DEVICE__NAME", "from-env")

    settings = load_settings(tmp_path)
    assert settings.proxy.listen_port == 9100
    assert settings.proxy.listen_host == "0.0.0.0"  # the rest of the section still comes from the file
    assert settings.proxy.gateways == ["https://litellm.example.com"]
    assert settings.device.name == "from-env"
    assert settings.database_url == "postgresql://offgate@db/offgate"

    assert load_settings(tmp_path, proxy={"listen_port": 7000}).proxy.listen_port == 7000


def test_lists_and_the_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFGATE_PROXY__GATEWAYS", '["https://a.example.com", "https://b.example.com"]')
    monkeypatch.setenv("OFFGATE_DATABASE_URL", "postgresql://u@db/offgate")
    settings = load_settings(tmp_path)
    assert settings.proxy.gateways == ["https://a.example.com", "https://b.example.com"]
    assert settings.database_url == "postgresql://u@db/offgate"


def test_a_section_from_the_environment_merges_with_its_keys_and_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, '[proxy]\nlisten_host = "0.0.0.0"\n\n[device]\nname = "laptop"\n')
    monkeypatch.setenv("OFFGATE_PROXY", '{"listen_port": 9001}')
    monkeypatch.setenv("offgate_proxy__gateways", '["https://a.example.com"]')  # names in any case
    monkeypatch.setenv("OFFGATE_ALERTS__ENTITY_BUDGETS_USD", '{"user:alice": 30}')
    settings = load_settings(tmp_path)
    assert (settings.proxy.listen_host, settings.proxy.listen_port, settings.proxy.gateways) == (
        "0.0.0.0", 9001, ["https://a.example.com"])
    assert settings.device.name == "laptop"
    assert settings.alerts.entity_budgets_usd == {"user:alice": 30.0}


def test_an_unknown_key_in_the_environment_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFGATE_PROXY__LISTEN_PROT", "9000")
    monkeypatch.setenv("OFFGATE_NOT_A_SECTION", "1")  # like OFFGATE_HOME: not a setting, never read
    with pytest.raises(ConfigError, match=re.escape(
            "environment variable OFFGATE_PROXY__LISTEN_PROT: proxy.listen_prot: unknown setting")):
        load_settings(tmp_path)


def test_a_list_in_the_environment_must_be_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFGATE_PROXY__GATEWAYS", "https://a.example.com")
    with pytest.raises(ConfigError, match="OFFGATE_PROXY__GATEWAYS is not JSON: .*environment variables are JSON"):
        load_settings(tmp_path)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[proxy]\nlisten_port = \n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not valid TOML: ") + ".*line 2"):
        load_settings(tmp_path)


@pytest.mark.parametrize(("text", "key"), [
    ("[proxy]\nlisten_prot = 9000\n", "proxy.listen_prot"),
    ("[proxyy]\nlisten_port = 9000\n", "proxyy"),
    ("database = 'x'\n", "database"),
])
def test_an_unknown_key_is_an_error(tmp_path: Path, text: str, key: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {key}: unknown setting")):
        load_settings(tmp_path)


def test_the_retired_prompt_setting_is_ignored_with_a_warning_naming_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[privacy]\nstore_prompts = true\n\n[device]\nname = \"laptop\"\n")
    warnings: list[str] = []
    settings = load_settings(tmp_path, warn=warnings.append)
    assert settings == Settings(device=DeviceSettings(name="laptop"))
    assert warnings == [f"{path}: privacy.store_prompts is no longer a setting and is ignored "
                        "(offgate never stores prompt or reply text); remove it"]
    write_config(tmp_path, "[privacy]\nstore_prompts = false\nstore_replies = true\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: privacy: unknown setting")):
        load_settings(tmp_path, warn=warnings.append)


@pytest.mark.parametrize(("text", "key", "problem", "secret"), [
    ("[proxy]\nlisten_port = 70000\n", "proxy.listen_port", "Input should be less than or equal to 65535", "70000"),
    ('[notify.webhook]\nurl = "ftp://hooks.example.com/services/T000/B000/SECRETPATH"\n', "notify.webhook.url",
     "must be an http:// or https:// URL", "SECRETPATH"),
    ('[notify.email]\nhost = "smtp.example.com"\npassword = 918273645\nto = ["finops@example.com"]\n',
     "notify.email.password", "Input should be a valid string", "918273645"),
], ids=["port", "webhook", "password"])
def test_a_bad_value_names_the_file_and_key_but_never_the_value(tmp_path: Path, text: str, key: str, problem: str,
                                                                  secret: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert f"{path}: {key}: {problem}" in str(raised.value)
    assert secret not in str(raised.value)


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, "[proxy]\nlisten_port = 9000\n")
    monkeypatch.setenv("OFFGATE_NOTIFY__SLACK__URL", "hooks.slack.com/services/T000/B000/SECRETPATH")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert ("environment variable OFFGATE_NOTIFY__SLACK__URL: notify.slack.url: "
            "must be an http:// or https:// URL") in str(raised.value)
    assert "SECRETPATH" not in str(raised.value)


def test_the_home_variable_is_not_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFGATE_HOME", str(tmp_path))
    assert load_settings(tmp_path) == Settings()


# -- database URL ---------------------------------------------------------------------


def test_the_database_defaults_to_sqlite_in_the_home(tmp_path: Path) -> None:
    assert database_url_for(Settings(), tmp_path) == f"sqlite:///{tmp_path}/offgate.db"


@pytest.mark.parametrize("url", [
    "sqlite:////var/lib/offgate/offgate.db",
    "postgresql://offgate:pw@db.example.com:5432/offgate?sslmode=require",
    "postgres://offgate@db/offgate",
])
def test_supported_database_urls(tmp_path: Path, url: str) -> None:
    assert database_url_for(Settings(database_url=url), tmp_path) == url


@pytest.mark.parametrize("url", ["mysql://root:hunter2@db/offgate", "sqlite://relative.db", "offgate.db"])
def test_an_unsupported_database_url_is_refused_without_its_password(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="is not supported") as raised:
        database_url_for(Settings(database_url=url), tmp_path)
    if "@" in url:
        assert "root:***@db" in str(raised.value)
        assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(("url", "redacted"), [
    ("postgresql://u:p%40ss@h:5432/db?sslmode=require", "postgresql://u:***@h:5432/db?sslmode=require"),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:a/b?c#d@e@h:5432/db?sslmode=require", "postgresql://u:***@h:5432/db?sslmode=require"),
    ("could not open postgresql://u:pa/ss@h/db: refused, retry@later", "could not open postgresql://u:***@h/db: "
                                                                     "refused, retry@later"),
    ("postgresql://:secret@h/db", "postgresql://:***@h/db"),
    ("postgresql://h/db?sslmode=require&password=secret", "postgresql://h/db?sslmode=require&password=***"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("sqlite:////home/u/offgate.db", "sqlite:////home/u/offgate.db"),
])
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_device_name_is_the_setting_else_the_hostname() -> None:
    assert device_name() == socket.gethostname()
    assert device_name("laptop-42") == "laptop-42"
