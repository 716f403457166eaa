"""The outbox's pure rules: keys, Message-IDs, recipients, backoff, reply classification."""

from __future__ import annotations

import random
from datetime import timedelta

import aiosmtplib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.delivery import DrainReport
from notifications.outbox import NoticeKey, Recipient, RetryPolicy
from notifications.smtp import SendVerdict, classify
from registry.vocabulary import NoticeKind

DISPATCH = NoticeKind.DEPARTMENT_DISPATCH


def test_the_key_names_kind_scope_step_and_recipient() -> None:
    key = NoticeKey.for_batch(DISPATCH, 12, "MEM@Example.org", "dispatch")
    assert key.value == "department_dispatch|batch:12|dispatch|mem@example.org"
    assert key.scope_id("batch") == 12
    assert key.scope_id("listing") is None


def test_the_message_id_is_stable_and_differs_per_key() -> None:
    key = NoticeKey.for_listing(NoticeKind.PRIOR_NOTICE, 5, "a@example.org")
    same = NoticeKey.for_listing(NoticeKind.PRIOR_NOTICE, 5, "A@example.org")
    other = NoticeKey.for_listing(NoticeKind.PRIOR_NOTICE, 6, "a@example.org")
    here = "0a1b2c3d4e5f"
    assert key.message_id(here, "example.org") == same.message_id(here, "example.org")
    assert key.message_id(here, "example.org") != other.message_id(here, "example.org")
    assert key.message_id(here, "example.org").startswith("<")
    assert key.message_id(here, "example.org").endswith(f".{here}@example.org>")
    # as long as the 128-bit hash alone was: "Message-ID: <…>" stays on one line
    assert len(key.message_id(here, "example.org")) == 1 + 20 + 1 + 12 + 1 + len("example.org") + 1


def test_the_same_key_in_two_installations_has_two_message_ids() -> None:
    key = NoticeKey.for_listing(NoticeKind.PRIOR_NOTICE, 5, "a@example.org")
    assert key.message_id("0a1b2c3d4e5f") != key.message_id("f5e4d3c2b1a0")


def test_a_long_key_is_hashed_to_fit_the_column() -> None:
    key = NoticeKey(DISPATCH, "batch:1", "x" * 240 + "@example.org", "s")
    assert len(key.value) <= 200
    assert key.value.startswith("department_dispatch|sha256|")


@pytest.mark.parametrize(
    "address",
    ["", "no-at-sign", "a@b@c", "两个@example.org", "a b@example.org", "a@example.org\r\nBcc: x@y"],
)
def test_a_bad_address_is_marked_with_its_reason_not_raised(address: str) -> None:
    """A bad mailbox parks its own notice (issue 13); it never fails the step that made it."""
    recipient = Recipient(address)
    assert recipient.problem is not None
    assert "邮箱" in recipient.problem.zh
    assert "\n" not in recipient.address
    assert "\r" not in recipient.address


def test_a_good_address_has_no_problem_and_is_stripped() -> None:
    assert Recipient(" a@example.org ").address == "a@example.org"
    assert Recipient("anquan@江岸冶金.中国").problem is None


def test_a_display_name_loses_its_line_breaks() -> None:
    assert Recipient("a@example.org", "张三\r\nBcc: x@y").name == "张三 Bcc: x@y"
    assert Recipient("a@example.org", "\r\n").name is None


@given(attempt=st.integers(min_value=1, max_value=40), seed=st.integers())
def test_backoff_grows_stays_jittered_and_capped(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base=timedelta(seconds=60), cap=timedelta(hours=1))
    step = min(timedelta(hours=1), timedelta(seconds=60) * 2 ** (attempt - 1))
    delay = policy.delay(attempt, random.Random(seed))
    assert step / 2 <= delay <= step


def test_the_budget_counts_from_the_last_requeue() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not policy.exhausted(2, 0)
    assert policy.exhausted(3, 0)
    assert not policy.exhausted(5, 3)
    assert policy.exhausted(6, 3)


@pytest.mark.parametrize(
    ("error", "verdict", "code"),
    [
        (aiosmtplib.SMTPResponseException(451, "4.3.0 try later"), SendVerdict.TRANSIENT, 451),
        (aiosmtplib.SMTPDataError(554, "5.7.1 rejected"), SendVerdict.PERMANENT, 554),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "5.1.1 unknown", "a@example.org")]
            ),
            SendVerdict.PERMANENT,
            550,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(452, "4.2.2 mailbox full", "a@example.org")]
            ),
            SendVerdict.TRANSIENT,
            452,
        ),
        (aiosmtplib.SMTPServerDisconnected("lost"), SendVerdict.TRANSIENT, None),
        (aiosmtplib.SMTPTimeoutError("timed out"), SendVerdict.TRANSIENT, None),
        (aiosmtplib.SMTPConnectError("refused"), SendVerdict.TRANSIENT, None),
        (ConnectionResetError("reset"), SendVerdict.TRANSIENT, None),
    ],
)
def test_replies_decide_retry_or_park(
    error: BaseException, verdict: SendVerdict, code: int | None
) -> None:
    result = classify(error)
    assert (result.verdict, result.code) == (verdict, code)
    assert result.reply


def test_the_drain_summary_accounts_for_every_claimed_notice() -> None:
    """Issue 13: `领取 23，发出 15` left 8 unexplained (JSON had `"released": 8`)."""
    report = DrainReport(deliverer="d", claimed=23, sent=15, released=8, batches=2)
    assert report.summary_line() == (
        "领取 23 封：发出 15，交回未发 8（本批时间已到，留待下次投递）"
    )
    mixed = DrainReport(
        deliverer="d", claimed=10, sent=4, retry=1, failed=1, dead=3, exhausted=1, lease_lost=2
    )
    line = mixed.summary_line()
    assert "待重试 1" in line
    assert "永久失败 1" in line
    assert "放弃 2（重试次数用尽）" in line  # the claimed ones; the exhausted one is apart
    assert "被其他投递进程接管 2" in line
    assert "另有 1 封重试次数已用尽，未领取即标为放弃" in line
