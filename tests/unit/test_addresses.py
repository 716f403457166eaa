"""The one address rule (`memoranda.addresses`): what import accepts, delivery can send."""

from __future__ import annotations

import pytest

from memoranda.addresses import AddressProblem, MailAddress, check_address


def test_an_internationalised_domain_is_kept_as_written_and_sent_in_a_labels() -> None:
    found = check_address(" anquan@江岸冶金.中国 ")
    assert found == MailAddress(
        text="anquan@江岸冶金.中国", ascii="anquan@xn--97q21yptmvp0b.xn--fiqs8s"
    )


def test_an_ascii_address_keeps_its_case_and_is_sent_with_a_lower_case_domain() -> None:
    assert check_address("Ops.Team+x@Example.ORG") == MailAddress(
        text="Ops.Team+x@Example.ORG", ascii="Ops.Team+x@example.org"
    )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("x@example.org。", "末尾多了全角字符或中文标点“。”"),
        ("x@example.org；", "“；”"),
        ("x@example。org", "“。”"),
        ("x@example.org.", "域名末尾多了“.”"),
        ("my_host", "“@”"),
        ("x@my_host.example.org", "下划线"),
        ("x@localhost", "至少含一个“.”"),
        ("x@[10.0.0.1]", "IP 地址"),
        ("x@10.0.0.1", "全是数字"),
        ("x@a..org", "连续的“.”"),
        ("x@-a.org", "“-a”"),
        ("安全科@example.org", "SMTPUTF8"),
        (".x@example.org", "用户名"),
        ("a@example.org,b@example.org", "一个邮箱"),
        ("a@example.org\r\nBcc: x@y.org", "空格或不可见字符"),
        ("", "为空"),
    ],
)
def test_an_undeliverable_address_is_refused_with_its_reason(address: str, reason: str) -> None:
    found = check_address(address)
    assert isinstance(found, AddressProblem)
    assert reason in found.zh
    assert found.en


@pytest.mark.parametrize(
    "address",
    [
        "a@ⓐ.com",  # UTS-46 would send this to a@a.com
        "a@①.com",
        "a@Ⅻ.com",
        "a@ﬁ.com",
        "a@exam\u00adple.org",  # an invisible soft hyphen, dropped by UTS-46
        "a@ex\u2060ample.com",
        "a@b.c\u180e",
        "a@xn--a.com",  # not valid Punycode
    ],
)
def test_a_domain_that_would_be_rewritten_or_is_badly_encoded_is_refused(address: str) -> None:
    """An attack found UTS-46's mapping silently sending these to another domain."""
    found = check_address(address)
    assert isinstance(found, AddressProblem), found
    assert "国际化域名" in found.zh


def test_a_domain_already_in_a_labels_is_accepted_in_any_case() -> None:
    found = check_address("x@XN--97Q21YPTMVP0B.xn--fiqs8s")
    assert isinstance(found, MailAddress)
    assert found.ascii == "x@xn--97q21yptmvp0b.xn--fiqs8s"
