"""Settings from the environment (prefix `JOINTCREDIT_`) and an optional `.env` file.

Built by `get_settings()` at entrypoints, never at import time (DESIGN.md §6). The embedded
defaults run everything on one machine: SQLite under `./var/`, the local mail sink on port 2525.
Like the full-stack FastAPI template, placeholder secrets and the frozen clock are refused in
production.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

import memoranda
from memoranda.addresses import checked_mailbox
from registry.errors import ConfigurationError
from registry.validation_messages import validation_message

if TYPE_CHECKING:
    from registry.input_limits import InputLimits
    from registry.numbering import Numbering

ENV_FILE = ".env"
DEV_ID_HASH_KEY = "dev-only-id-hash-key-change-me"
MIN_ID_HASH_KEY_BYTES = 32
"""A production ID hash key has at least this many bytes besides surrounding whitespace: the
masked form shows 10 of 18 characters, so a weak key lets anyone holding a stored hash try the
remaining ~10^7 numbers and recover the person (HMAC-SHA256 wants a key of its output size)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JOINTCREDIT_",
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # A validation error's text would otherwise quote every input, secrets included, and
        # its traceback reaches Prefect's run logs.
        hide_input_in_errors=True,
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/jointcredit.db"
    data_dir: Path = Path("var")
    catalogue_dir: Path = Field(default_factory=lambda: Path(memoranda.__file__).parent)
    now: datetime | None = Field(
        default=None, description="Freeze the clock at this ISO time (rehearsals, demos, tests)."
    )
    id_hash_key: SecretStr = SecretStr(DEV_ID_HASH_KEY)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_connections: int = Field(default=4, ge=1, le=32)
    mail_from: str = "jointcredit@example.org"
    mail_from_name: str = "安全生产联合奖惩系统"
    authority_name: str = Field(default="应急管理局", description="发文机关: signs every notice")
    authority_office: str = "信用管理科"
    authority_email: str = "jointcredit@example.org"
    authority_phone: str | None = None
    number_prefix: str | None = Field(
        default=None,
        description="文号的机关代字（如 川应急）；留空则由发文机关名称得出（应急管理局 → 应急）",
    )
    number_words: dict[str, str] = Field(
        default_factory=dict,
        description='各文书类型的代字，覆盖默认值（JSON，如 {"listing_decision": "信决"}）',
    )
    report_recipients: list[str] = Field(
        default_factory=list,
        description="月报收件人（leadership mailboxes）；留空则发给 departments.yml 的督办室",
    )
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    outbox_retry_base_seconds: float = Field(default=60.0, gt=0)
    outbox_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    outbox_lease_seconds: float = Field(default=300.0, gt=0)
    import_max_rows: int = Field(default=1_000_000, ge=1)
    import_max_columns: int = Field(default=200, ge=20, le=16_384)
    import_max_field_chars: int = Field(default=32_767, ge=2_000, le=131_072)
    import_max_json_mb: int = Field(default=10, ge=1)
    import_max_xlsx_sheet_mb: int = Field(default=1024, ge=1)
    import_max_xlsx_part_mb: int = Field(default=32, ge=1)
    import_max_shared_strings: int = Field(default=1_000_000, ge=1)
    import_max_xlsx_ratio: int = Field(default=100, ge=10)

    audit_anchor_path: Path | None = Field(
        default=None,
        description="Append-only file of signed audit heads (default <data_dir>/audit-anchor.log).",
    )
    audit_anchor_key: SecretStr | None = Field(
        default=None, description="HMAC key of the anchor lines (default: derived from the ID key)."
    )

    fault_after_step: str | None = Field(
        default=None,
        description="Rehearse a crash: fail the run right after this step commits (tests only).",
    )
    kill_at: str | None = Field(
        default=None,
        description="Rehearse a hard crash: SIGKILL at this `<flow>:<boundary>` (registry.faults).",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_names_a_known_database(cls, url: str) -> str:
        """A typo in the scheme is refused here, not as the driver's NoSuchModuleError later."""
        try:
            make_url(url).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ValueError(
                f"数据库地址无效：{_hidden_password(url)}，应形如 sqlite:///var/jointcredit.db 或 "
                "postgresql+psycopg://用户@主机:5432/库名（unknown database URL）"
            ) from exc
        return url

    @field_validator("mail_from", "authority_email")
    @classmethod
    def _deliverable_address(cls, value: str) -> str:
        """The sender and the address printed in every letter: the one address rule, so a bad
        value is refused at start-up, not found by the relay (or a reader) later."""
        return checked_mailbox(value)

    @field_validator("number_prefix")
    @classmethod
    def _number_prefix(cls, value: str | None) -> str | None:
        from registry.numbering import PREFIX_MAX, NumberingError, check_part

        if value is None or not value.strip():
            return None
        try:
            return check_part(value, "文号机关代字", PREFIX_MAX)
        except NumberingError as exc:
            raise ValueError(exc.message) from exc

    @field_validator("number_words")
    @classmethod
    def _number_words(cls, value: dict[str, str]) -> dict[str, str]:
        from registry.numbering import NumberingError, checked_words

        try:
            checked_words(value)
        except NumberingError as exc:
            raise ValueError(exc.message) from exc
        return value

    @field_validator("report_recipients")
    @classmethod
    def _deliverable_recipients(cls, value: list[str]) -> list[str]:
        return [checked_mailbox(address, f"第 {n} 个") for n, address in enumerate(value, 1)]

    @model_validator(mode="after")
    def _production_refuses_rehearsal_settings(self) -> Settings:
        if self.env == "production":
            if self.fault_after_step is not None:
                raise ValueError(
                    "生产环境不允许注入故障：请删除 JOINTCREDIT_FAULT_AFTER_STEP"
                    "（fault injection is refused in production）"
                )
            if self.kill_at is not None:
                raise ValueError(
                    "生产环境不允许注入进程中断：请删除 JOINTCREDIT_KILL_AT"
                    "（kill points are refused in production）"
                )
            if self.now is not None:
                raise ValueError(
                    "生产环境不允许冻结时钟：请删除 JOINTCREDIT_NOW"
                    "（JOINTCREDIT_NOW is refused when JOINTCREDIT_ENV=production）"
                )
            key = self.id_hash_key.get_secret_value()
            if key == DEV_ID_HASH_KEY:
                raise ValueError(
                    "生产环境必须设置自己的 JOINTCREDIT_ID_HASH_KEY"
                    "（the development placeholder key is refused in production）"
                )
            if len(key.strip().encode()) < MIN_ID_HASH_KEY_BYTES:
                raise ValueError(
                    f"生产环境的 JOINTCREDIT_ID_HASH_KEY 至少须有 {MIN_ID_HASH_KEY_BYTES} 字节"
                    "（不计首尾空白），可用 `openssl rand -hex 32` 生成"
                    f"（an ID hash key shorter than {MIN_ID_HASH_KEY_BYTES} bytes is refused"
                    " in production）"
                )
            anchor_key = self.audit_anchor_key
            if anchor_key is not None and (
                len(anchor_key.get_secret_value().strip().encode()) < MIN_ID_HASH_KEY_BYTES
            ):
                # A short key lets whoever can edit the database forge the anchor lines too.
                raise ValueError(
                    f"生产环境的 JOINTCREDIT_AUDIT_ANCHOR_KEY 至少须有 {MIN_ID_HASH_KEY_BYTES} 字节"
                    "（不计首尾空白），或不设置（由 JOINTCREDIT_ID_HASH_KEY 派生）"
                    f"（an audit anchor key shorter than {MIN_ID_HASH_KEY_BYTES} bytes is refused"
                    " in production）"
                )
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """repr() and str() hide the database password, as SecretStr hides the other secrets."""
        for name, value in super().__repr_args__():
            yield name, _hidden_password(value) if name == "database_url" else value

    @property
    def input_limits(self) -> InputLimits:
        """What one imported file or returned sheet may hold (`registry.input_limits`)."""
        from registry.input_limits import MB, InputLimits  # only where a file is read

        return InputLimits(
            max_rows=self.import_max_rows,
            max_columns=self.import_max_columns,
            max_field_chars=self.import_max_field_chars,
            max_json_bytes=self.import_max_json_mb * MB,
            max_sheet_bytes=self.import_max_xlsx_sheet_mb * MB,
            max_part_bytes=self.import_max_xlsx_part_mb * MB,
            max_shared_strings=self.import_max_shared_strings,
            max_ratio=self.import_max_xlsx_ratio,
        )

    @property
    def numbering(self) -> Numbering:
        """The authority's 文号: prefix, per-kind words and sequences (`registry.numbering`).
        The authority is `authority_name` until several authorities share an installation."""
        from registry.numbering import Numbering

        return Numbering.for_authority(self.authority_name, self.number_prefix, self.number_words)

    @property
    def mail_dir(self) -> Path:
        """Where `jointcredit mail-sink` stores what it receives (one `.eml` per message)."""
        return self.data_dir / "mail"

    @property
    def audit_anchor_file(self) -> Path:
        """Where each commit's audit chain head is anchored (`registry.audit_anchor`)."""
        return self.audit_anchor_path or self.data_dir / "audit-anchor.log"

    @property
    def calendar_dir(self) -> Path:
        """Operator-maintained holiday years beyond chinese-calendar (`calendar/<year>.yml`)."""
        return self.catalogue_dir / "calendar"


def _hidden_password(url: object) -> object:
    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "***"


def get_settings() -> Settings:
    """Read settings now; a bad value becomes one clear `ConfigurationError`."""
    try:
        return Settings()
    except ValidationError as exc:
        reasons = "；".join(_describe(err["loc"], validation_message(err)) for err in exc.errors())
        raise ConfigurationError(f"配置无效（invalid settings）：{reasons}") from exc
    except SettingsError as exc:  # a list or dict setting whose value is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = f"JOINTCREDIT_{found.group(1).upper()}" if found else "某项配置"
        raise ConfigurationError(
            f'配置无效（invalid settings）：{name} 应为 JSON，如 ["a@example.org"]'
            f"（{name} is not valid JSON）"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"配置无效（invalid settings）：{ENV_FILE} 不是 UTF-8 编码的文本（.env is not UTF-8）"
        ) from exc


def _describe(loc: tuple[int | str, ...], msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    if not loc:
        return msg
    return f"JOINTCREDIT_{'_'.join(str(p) for p in loc).upper()}：{msg}"
