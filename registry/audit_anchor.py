"""The audit chain's head, anchored outside the database (DOMAIN.md §7: 来源可查、责任可究).

The hash chain (`registry.audit`) shows any change to a stored event, but not the loss of the
newest ones: whoever can delete the last rows can also move `audit_head` back. So every commit
that appended events also appends the new head — sequence number, hash and an HMAC over both —
as one line to an append-only file (`JOINTCREDIT_AUDIT_ANCHOR_PATH`, default
`<data_dir>/audit-anchor.log`), and `jointcredit audit verify` checks that the newest anchored
head is still in the chain. The monthly report prints the head as well (`audit_head_line`), so
the supervising office holds a copy no operator of this system can reach.

Concurrent writers: appenders serialise on the `audit_head` row lock, so heads are committed in
sequence order; their lines are written after the commit (a rolled-back transaction anchors
nothing) and may reach the file in another order, which is harmless because verify takes the
highest sequence number. Each line is one `write` on a descriptor opened with `O_APPEND`, which
local file systems keep whole. A process that dies between its commit and its line leaves the
anchor one commit behind: the next commit anchors a later head.

How sessions learn of it: `append_events` notes the new head in `session.info`; `install(engine,
anchor)` registers the anchor for that engine; after each commit the head noted is written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from registry.errors import JointcreditError
from registry.settings import Settings

PENDING_HEAD = "jointcredit.audit_head"
"""`session.info` key: the (chain, seq, hash) this transaction's events end with."""
ANCHOR_FILE = "audit-anchor.log"


class AnchorError(JointcreditError):
    """The anchor file cannot be read, or a line in it is not one we signed."""


@dataclass(frozen=True)
class AnchoredHead:
    chain: str
    seq: int
    hash: str


class AuditAnchor:
    """Appends signed heads to `path` and reads the newest back."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    def signature(self, chain: str, seq: int, digest: str) -> str:
        message = f"{chain}:{seq}:{digest}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def record(self, chain: str, seq: int, digest: str) -> None:
        line = f"{chain} {seq} {digest} {self.signature(chain, seq, digest)}\n".encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def latest(self, chain: str) -> AnchoredHead | None:
        """The head of `chain` anchored with the highest sequence number; None if none is.

        `chain` is the hash of a database's first event: one file may hold the heads of
        several databases (a demo beside the real one), each read on its own."""
        if not self.path.exists():
            return None
        newest: AnchoredHead | None = None
        with self.path.open(encoding="ascii", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                head = self._parse(line, number)
                if head is None or head.chain != chain:
                    continue
                if newest is None or head.seq > newest.seq:
                    newest = head
        return newest

    def _parse(self, line: str, number: int) -> AnchoredHead | None:
        if not line.strip():
            return None
        parts = line.split()
        if len(parts) != 4 or not parts[1].isdigit():
            raise AnchorError(
                f"审计锚点文件 {self.path} 第 {number} 行格式不对（malformed anchor line）",
                path=str(self.path),
                line=number,
            )
        chain, seq, digest, signature = parts[0], int(parts[1]), parts[2], parts[3]
        if not hmac.compare_digest(signature, self.signature(chain, seq, digest)):
            raise AnchorError(
                f"审计锚点文件 {self.path} 第 {number} 行签名不符：锚点被改动，或密钥已更换"
                "（anchor line not signed with this key）",
                path=str(self.path),
                line=number,
            )
        return AnchoredHead(chain, seq, digest)


def anchor_key(id_hash_key: str, configured: str | None) -> bytes:
    """The configured anchor key, else one derived from the ID hash key (a separate purpose,
    so a leaked anchor line says nothing about the ID hashes)."""
    if configured:
        return configured.encode()
    return hmac.new(id_hash_key.encode(), b"jointcredit audit anchor", hashlib.sha256).digest()


def anchor_from_settings(settings: Settings) -> AuditAnchor:
    configured = settings.audit_anchor_key
    return AuditAnchor(
        settings.audit_anchor_file,
        anchor_key(
            settings.id_hash_key.get_secret_value(),
            configured.get_secret_value() if configured is not None else None,
        ),
    )


_ANCHORS: weakref.WeakKeyDictionary[sa.Engine, AuditAnchor] = weakref.WeakKeyDictionary()


def install(engine: sa.Engine, anchor: AuditAnchor) -> None:
    """Anchor every head committed through sessions bound to `engine`."""
    _ANCHORS[engine] = anchor


def anchor_of(engine: sa.Engine) -> AuditAnchor | None:
    return _ANCHORS.get(engine)


def note_head(session: orm.Session, chain: str, seq: int, digest: str) -> None:
    """Called by `append_events`: the head this transaction will commit, and its chain."""
    session.info[PENDING_HEAD] = (chain, seq, digest)


@sa.event.listens_for(orm.Session, "after_commit")
def _anchor_committed_head(session: orm.Session) -> None:
    head = session.info.pop(PENDING_HEAD, None)
    if head is None:
        return
    anchor = _ANCHORS.get(session.get_bind())  # type: ignore[arg-type]
    if anchor is None:
        return
    try:
        anchor.record(*head)
    except OSError as exc:
        raise AnchorError(
            f"操作已提交，但审计锚点写入失败（{anchor.path}：{exc.strerror}）；"
            "请修复后运行 jointcredit audit verify（committed, but the anchor was not written）",
            path=str(anchor.path),
        ) from exc


@sa.event.listens_for(orm.Session, "after_rollback")
def _forget_head(session: orm.Session) -> None:
    session.info.pop(PENDING_HEAD, None)
