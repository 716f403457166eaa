"""An anchor that cannot be written after the commit is reported as itself.

The change is committed when the audit head's anchor line (`registry.audit_anchor`) fails to
write; the operator must read "操作已提交，但审计锚点写入失败", not SQLAlchemy's
"session is in 'committed' state" that the rollback after a successful commit used to raise.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from registry import db
from tests.integration.cli_runner import run as cli


def test_an_anchor_that_cannot_be_written_is_named_and_the_change_stays(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'anchor.db'}"
    db.upgrade(url)
    unwritable = tmp_path / "a-directory"
    unwritable.mkdir()
    env = {
        "JOINTCREDIT_DATABASE_URL": url,
        "JOINTCREDIT_DATA_DIR": str(tmp_path / "var"),
        "JOINTCREDIT_AUDIT_ANCHOR_PATH": str(unwritable),
    }
    result = cli(
        tmp_path,
        "contact",
        "set",
        "--department",
        "ndrc",
        "--address",
        "w@ndrc.example.org",
        env=env,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "操作已提交，但审计锚点写入失败" in lines[0]
    assert "committed' state" not in result.stderr
    engine = db.make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM department_mailbox")).scalar() == 1
        assert connection.execute(sa.text("SELECT count(*) FROM audit_event")).scalar() >= 1
    engine.dispose()
