"""Engine factory, session scope and migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on, so
the Prefect shell and the CLI can read while one writer writes; PostgreSQL is for many workers
(claims use `FOR UPDATE SKIP LOCKED`). Engines are built at entrypoints, never at import time.
The schema is owned by Alembic (`registry/migrations`); `upgrade` is `jointcredit db upgrade`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry.errors import ConfigurationError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
IN_LIST_CHUNK = 900
"""Values bound in one `IN (…)`: SQLite allows 999 parameters per statement by default, and the
rest of the statement needs a few of its own. The one place this number is kept."""

T = TypeVar("T")


def in_list_chunks(values: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices small enough for one `IN (…)` on every database we support."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine for `url`; creates the SQLite file's folder, sets SQLite pragmas per connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error (and re-raise it).

    The commit stays outside the `except`: an error raised after the commit succeeded (the
    audit anchor that could not be written, `registry.audit_anchor`) must reach the operator as
    itself, not as the rollback's "session is in 'committed' state". A commit that fails is
    rolled back when the session closes."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` to `revision` (idempotent)."""
    make_engine(url).dispose()  # creates the SQLite folder if needed
    try:
        command.upgrade(alembic_config(url), revision)
    except sa.exc.DBAPIError as exc:
        if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            raise
        raise database_unavailable(exc, url) from exc


class DatabaseUnavailable(ConfigurationError):
    """The database cannot be reached or answered with an error of its own (not of our data)."""


def database_unavailable(exc: sa.exc.DBAPIError, url: str | sa.URL | None) -> DatabaseUnavailable:
    """One line for an operator instead of the driver's traceback: where, and the driver's
    first line (connection refused, unknown database, unable to open the file …)."""
    detail = str(exc.orig or exc).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    where = ""
    if url is not None:
        where = " " + make_url(url).render_as_string(hide_password=True)
    if "database is locked" in reason:
        message = f"数据库忙，请稍后重试{where}（database busy）：{reason}"
    elif "readonly database" in reason or "read-only" in reason:
        message = f"数据库只读，无法写入{where}（database is read-only）：{reason}"
    elif isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        message = f"无法连接数据库{where}（database unreachable）：{reason}"
    else:
        message = f"数据库出错{where}（database error）：{reason}"
    return DatabaseUnavailable(message, reason=reason)


def current_revision(engine: sa.Engine) -> str | None:
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError as exc:
        raise database_unavailable(exc, engine.url) from exc


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def require_current_schema(engine: sa.Engine) -> None:
    """Refuse to work on a database Alembic has not brought to the latest revision."""
    head = head_revision()
    current = current_revision(engine)
    if current != head:
        raise ConfigurationError(
            f"数据库结构不是最新版本（schema at {current or '空库 empty'}, expected {head}）："
            "请先运行 jointcredit db upgrade",
            current=current,
            expected=head,
        )
