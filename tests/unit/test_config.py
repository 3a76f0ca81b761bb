"""Settings: defaults file, environment overrides, and one clear line per bad setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from webhooksd.config import load
from webhooksd.errors import ConfigError


def test_defaults_file_holds_every_setting() -> None:
    """The TOML defaults load and match the documented embedded defaults."""
    settings = load(environ={})
    assert settings.amqp_url == "memory://"
    assert settings.store_url.startswith("sqlite:///")
    assert settings.api_listen == "127.0.0.1:8000"
    assert settings.allow_private_targets is False
    assert "Account-ID" in settings.reserved_ccv_keys
    assert "user" in settings.object_types


def test_environment_overrides_each_type() -> None:
    """WEBHOOKSD_* variables override strings, booleans, integers and lists."""
    settings = load(
        environ={
            "WEBHOOKSD_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
            "WEBHOOKSD_STORE_URL": "postgresql://postgres@127.0.0.1/test",
            "WEBHOOKSD_API_LISTEN": "0.0.0.0:9000",
            "WEBHOOKSD_ALLOW_PRIVATE_TARGETS": "true",
            "WEBHOOKSD_PREFETCH": "7",
            "WEBHOOKSD_ALLOWED_TARGET_NETWORKS": "10.0.0.0/8, 192.168.1.0/24",
        }
    )
    assert settings.amqp_url.startswith("amqp://")
    assert settings.api_host == "0.0.0.0" and settings.api_port == 9000
    assert settings.allow_private_targets is True
    assert settings.prefetch == 7
    assert settings.allowed_target_networks == ("10.0.0.0/8", "192.168.1.0/24")


@pytest.mark.parametrize(
    ("variable", "value", "setting"),
    [
        ("WEBHOOKSD_ALLOW_PRIVATE_TARGETS", "maybe", "allow_private_targets"),
        ("WEBHOOKSD_PREFETCH", "many", "prefetch"),
        ("WEBHOOKSD_PREFETCH", "0", "prefetch"),
        ("WEBHOOKSD_API_LISTEN", "8000", "api_listen"),
        ("WEBHOOKSD_AMQP_URL", "kafka://x", "amqp_url"),
        ("WEBHOOKSD_STORE_URL", "mongodb://x", "store_url"),
        ("WEBHOOKSD_ALLOWED_TARGET_NETWORKS", "not-a-net", "allowed_target_networks"),
        ("WEBHOOKSD_ENDPOINT_QUEUE", "0", "endpoint_queue"),
        ("WEBHOOKSD_ENDPOINT_WAIT_MS", "-1", "endpoint_wait_ms"),
        ("WEBHOOKSD_MAX_PENDING_RETRIES", "0", "max_pending_retries"),
        ("WEBHOOKSD_KAZOO_CLUSTER_ID", "a b", "kazoo_cluster_id"),
        ("WEBHOOKSD_KAZOO_CLUSTER_ID", "x" * 129, "kazoo_cluster_id"),
    ],
)
def test_bad_setting_is_named(variable: str, value: str, setting: str) -> None:
    """A malformed value raises ConfigError naming the setting."""
    with pytest.raises(ConfigError) as info:
        load(environ={variable: value})
    assert info.value.setting == setting


def test_config_file_overrides_defaults_and_rejects_unknown_keys(tmp_path: Path) -> None:
    """A --config file overrides defaults; an unknown key is an error naming it."""
    good = tmp_path / "good.toml"
    good.write_text("prefetch = 3\nlog_successful_attempts = false\n")
    settings = load(good, environ={})
    assert settings.prefetch == 3 and settings.log_successful_attempts is False
    bad = tmp_path / "bad.toml"
    bad.write_text("prefech = 3\n")
    with pytest.raises(ConfigError, match="prefech"):
        load(bad, environ={})


def test_cli_stops_with_one_line_for_a_bad_setting() -> None:
    """`webhooksd run` with a bad setting exits non-zero printing one line naming it."""
    proc = subprocess.run(
        [sys.executable, "-m", "webhooksd", "run"],
        env={"WEBHOOKSD_API_LISTEN": "nowhere", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "api_listen" in lines[0]


def test_a_breaker_cooldown_as_long_as_the_failure_window_is_refused() -> None:
    """Else a dead endpoint's hook never reaches the failure count inside the window."""
    with pytest.raises(ConfigError, match="breaker_cooldown_ms"):
        load(environ={"WEBHOOKSD_BREAKER_COOLDOWN_MS": "60000"})
    assert load(environ={"WEBHOOKSD_BREAKER_COOLDOWN_MS": "59999"}).breaker_cooldown_ms == 59999
    settings = load(
        environ={"WEBHOOKSD_BREAKER_COOLDOWN_MS": "90000", "WEBHOOKSD_BREAKER_FAILURES": "0"}
    )
    assert settings.breaker_failures == 0


def test_partition_days_ahead_is_bounded() -> None:
    """Each day ahead is a PostgreSQL table: 1 to 366, from the environment like the rest."""
    assert load(environ={}).attempt_partition_days_ahead == 7
    env = {"WEBHOOKSD_ATTEMPT_PARTITION_DAYS_AHEAD": "30"}
    assert load(environ=env).attempt_partition_days_ahead == 30
    for bad in ("0", "367", "-1"):
        with pytest.raises(ConfigError, match="attempt_partition_days_ahead"):
            load(environ={"WEBHOOKSD_ATTEMPT_PARTITION_DAYS_AHEAD": bad})


def test_event_loop_setting() -> None:
    """``event_loop``: auto takes uvloop (a dependency on Linux), asyncio the standard loop;
    anything else is refused naming the setting."""
    import uvloop

    from webhooksd.cli import loop_factory

    assert load(environ={}).event_loop == "auto"
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None
    with pytest.raises(ConfigError, match="event_loop"):
        load(environ={"WEBHOOKSD_EVENT_LOOP": "trio"})


def test_kazoo_couch_url_must_be_http_and_is_never_repeated() -> None:
    """Kazoo's CouchDB URL is empty (standalone) or http(s); the error does not echo the
    password it carries."""
    assert load(environ={}).kazoo_couch_url == ""
    url = load(environ={"WEBHOOKSD_KAZOO_COUCH_URL": "https://u:pw@couch:5984"}).kazoo_couch_url
    assert url == "https://u:pw@couch:5984"
    with pytest.raises(ConfigError, match="kazoo_couch_url") as refused:
        load(environ={"WEBHOOKSD_KAZOO_COUCH_URL": "couch://u:hunter2@couch:5984"})
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"WEBHOOKSD_SMTP_SECURITY": "ssl"}, "smtp_security"),
        ({"WEBHOOKSD_SMTP_HOST": "mail.example.com"}, "smtp_from"),
        ({"WEBHOOKSD_SMTP_PORT": "70000"}, "smtp_port"),
        ({"WEBHOOKSD_ALERT_INTERVAL_S": "0"}, "alert_interval_s"),
        ({"WEBHOOKSD_ALERT_ATTEMPTS": "0"}, "alert_attempts"),
    ],
)
def test_alert_settings_are_checked(environ: dict[str, str], setting: str) -> None:
    """A bad SMTP or alert setting stops start-up naming it (no From address, no e-mail)."""
    with pytest.raises(ConfigError) as raised:
        load(environ=environ)
    assert raised.value.setting == setting
