"""Settings: the frozen clock for rehearsals, refused in production; secrets never printed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from registry.clock import FrozenClock, SystemClock, clock_from_settings
from registry.errors import ConfigurationError
from registry.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # no developer .env here
    for name in ("ENV", "NOW", "ID_HASH_KEY", "SMTP_PASSWORD", "DATABASE_URL"):
        monkeypatch.delenv(f"JOINTCREDIT_{name}", raising=False)


def test_defaults_run_on_one_machine() -> None:
    settings = get_settings()
    assert settings.database_url == "sqlite:///var/jointcredit.db"
    assert settings.smtp_port == 2525
    assert settings.smtp_tls == "none"
    assert (settings.calendar_dir / "README.md").exists()
    assert isinstance(clock_from_settings(settings), SystemClock)


def test_jointcredit_now_freezes_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_NOW", "2026-12-31T23:30:00+08:00")
    clock = clock_from_settings(get_settings())
    assert isinstance(clock, FrozenClock)
    assert clock.now() == datetime(2026, 12, 31, 15, 30, tzinfo=UTC)
    assert clock.today() == date(2026, 12, 31)  # the business date is Beijing's
    clock.advance(timedelta(hours=1))
    assert clock.today() == date(2027, 1, 1)


def test_production_refuses_the_frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_ENV", "production")
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", "a-real-key-from-the-vault-0123456789abcdef")
    monkeypatch.setenv("JOINTCREDIT_NOW", "2026-12-31T09:00:00+08:00")
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_NOW"):
        get_settings()
    monkeypatch.delenv("JOINTCREDIT_NOW")
    assert get_settings().env == "production"


def test_production_refuses_the_placeholder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_ENV", "production")
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_ID_HASH_KEY"):
        get_settings()


@pytest.mark.parametrize(
    "key", ["", "   ", "\t\n", "short-key", " " * 40, "x" * 31, "  " + "k" * 31 + "  "]
)
def test_production_refuses_an_empty_or_short_key(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """Issue 13 item 10: a weak key makes every stored hash reversible over the masked digits."""
    monkeypatch.setenv("JOINTCREDIT_ENV", "production")
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", key)
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_ID_HASH_KEY") as refused:
        get_settings()
    assert "至少须有 32 字节" in refused.value.message
    assert key.strip() == "" or key.strip() not in refused.value.message


@pytest.mark.parametrize("key", ["x", "   ", "k" * 31])
def test_production_refuses_a_short_audit_anchor_key(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """Whoever can edit the database could forge the anchor lines signed with a guessable key."""
    monkeypatch.setenv("JOINTCREDIT_ENV", "production")
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", "k" * 32)
    monkeypatch.setenv("JOINTCREDIT_AUDIT_ANCHOR_KEY", key)
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_AUDIT_ANCHOR_KEY"):
        get_settings()
    monkeypatch.setenv("JOINTCREDIT_AUDIT_ANCHOR_KEY", "a" * 32)
    assert get_settings().audit_anchor_key is not None


def test_production_accepts_a_key_of_32_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_ENV", "production")
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", "k" * 32)
    assert get_settings().env == "production"
    monkeypatch.setenv("JOINTCREDIT_ENV", "development")
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", "short")  # development: any key
    assert get_settings().env == "development"


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_SMTP_TLS", "maybe")
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_SMTP_TLS"):
        get_settings()


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_SMTP_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", "another-secret-key")
    settings = Settings()
    assert "hunter2-secret" not in repr(settings)
    assert "another-secret-key" not in repr(settings)
    assert "hunter2-secret" not in str(settings.model_dump())


def test_a_database_url_of_an_unknown_kind_is_refused_with_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A typo in the scheme was an internal error (NoSuchModuleError) at the first query."""
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", "postgrs://jointcredit:secret@db/x")
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_DATABASE_URL") as refused:
        get_settings()
    assert "数据库地址无效" in refused.value.message
    assert "secret" not in refused.value.message


def test_a_list_setting_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic-settings raises its own SettingsError (not a ValidationError) for these."""
    monkeypatch.setenv("JOINTCREDIT_REPORT_RECIPIENTS", "not json")
    with pytest.raises(ConfigurationError) as refused:
        get_settings()
    assert "JOINTCREDIT_REPORT_RECIPIENTS 应为 JSON" in refused.value.message


def test_an_env_file_that_is_not_utf8_is_named() -> None:
    Path(".env").write_bytes(b"JOINTCREDIT_ENV=\xff\xfe\n")
    with pytest.raises(ConfigurationError, match=r"\.env 不是 UTF-8"):
        get_settings()


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("MAIL_FROM", "my_host", "应含且只含一个“@”"),
        ("MAIL_FROM", "jointcredit@example.org。", "末尾多了全角字符或中文标点“。”"),
        ("AUTHORITY_EMAIL", "x@example.org。", "末尾多了全角字符或中文标点“。”"),
        ("AUTHORITY_EMAIL", "x@localhost", "域名应至少含一个“.”"),
        ("REPORT_RECIPIENTS", '["lead@example.org", "x@example.org。"]', "第 2 个"),
        ("REPORT_RECIPIENTS", '["安全科@example.cn"]', "SMTPUTF8"),
    ],
)
def test_every_address_setting_is_held_to_the_one_address_rule(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    """Issue 13: these were accepted, then `outbox drain` failed with an English header defect
    (MAIL_FROM) or every report and letter carried an address nobody can write to."""
    monkeypatch.setenv(f"JOINTCREDIT_{name}", value)
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    message = caught.value.message
    assert f"JOINTCREDIT_{name}：" in message
    assert "邮箱无法使用" in message
    assert reason in message


def test_address_settings_are_kept_without_outer_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_MAIL_FROM", " jointcredit@应急.中国 ")
    monkeypatch.setenv("JOINTCREDIT_REPORT_RECIPIENTS", '[" lead@example.org"]')
    settings = get_settings()
    assert settings.mail_from == "jointcredit@应急.中国"
    assert settings.report_recipients == ["lead@example.org"]
