"""Member link values: deterministic per (campaign, member), single-purpose, readable codes."""

from __future__ import annotations

import pytest

from dispatch.register import tokens
from dispatch.register.tokens import CODE_ALPHABET, LinkPurpose

SECRET = "test-secret-0123456789abcdef"


def test_campaign_tokens_are_stable_and_differ_by_purpose_campaign_member_and_secret() -> None:
    token = tokens.campaign_token(SECRET, LinkPurpose.UNSUBSCRIBE, 7, 42)

    assert token == tokens.campaign_token(SECRET, LinkPurpose.UNSUBSCRIBE, 7, 42)
    assert len(token) == 43 and "42" not in token
    others = {
        tokens.campaign_token(SECRET, LinkPurpose.CENTRE, 7, 42),
        tokens.campaign_token(SECRET, LinkPurpose.UNSUBSCRIBE, 8, 42),
        tokens.campaign_token(SECRET, LinkPurpose.UNSUBSCRIBE, 7, 43),
        tokens.campaign_token(SECRET + "x", LinkPurpose.UNSUBSCRIBE, 7, 42),
    }
    assert token not in others and len(others) == 4


def test_letter_codes_are_twelve_unambiguous_characters() -> None:
    codes = {tokens.letter_code(SECRET, 7, member) for member in range(2000)}

    assert len(codes) == 2000  # 60 bits: no collision among a few thousand
    assert all(len(c) == 12 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("ILOU") & set("".join(codes))


@pytest.mark.parametrize(
    "typed",
    ["ABCD-EFGH-JKMN", "abcd efgh jkmn", " abcdefghjkmn ", "ABCD-EFGH-JKMN".lower()],
)
def test_a_code_is_read_as_people_type_it(typed: str) -> None:
    assert tokens.read_code(typed) == "ABCDEFGHJKMN"


def test_letters_people_confuse_read_as_the_digits_they_look_like() -> None:
    assert tokens.read_code("OOOO-IIII-LLLL") == "000011111111"


@pytest.mark.parametrize(
    "typed", ["", "ABCD-EFGH", "ABCD-EFGH-JKMN-P", "ABCD-EFGH-JKM!", "ÅBCD-EFGH-JKMN"]
)
def test_what_is_not_a_code_is_none(typed: str) -> None:
    assert tokens.read_code(typed) is None


def test_a_digest_is_bound_to_its_purpose() -> None:
    value = tokens.random_token()

    assert tokens.digest(LinkPurpose.SESSION, value) != tokens.digest(LinkPurpose.CONFIRM, value)
    assert value not in tokens.digest(LinkPurpose.SESSION, value)
    assert tokens.format_code("ABCDEFGHJKMN") == "ABCD-EFGH-JKMN"
