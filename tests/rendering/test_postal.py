"""Address lines in Finnish postal order, and postal presort."""

from __future__ import annotations

import pytest

from dispatch.rendering import AddressError, address_lines, presort_key
from tests.rendering.helpers import make_recipient


def test_address_lines_follow_finnish_postal_order_with_town_in_capitals() -> None:
    recipient = make_recipient(post_town="Helsinki")
    assert address_lines(recipient) == (
        "Maria Virtanen",
        "Mannerheimintie 12 B 7",
        "00100 HELSINKI",
    )


def test_extra_line_goes_between_name_and_street() -> None:
    recipient = make_recipient(address_extra="c/o Anna Virtanen")
    assert address_lines(recipient) == (
        "Maria Virtanen",
        "c/o Anna Virtanen",
        "Mannerheimintie 12 B 7",
        "00100 HELSINKI",
    )


def test_swedish_and_accented_towns_are_capitalised_letter_by_letter() -> None:
    lines = address_lines(make_recipient(post_town="Jakobstad", postcode="68600"))
    assert lines[-1] == "68600 JAKOBSTAD"
    lines = address_lines(make_recipient(post_town="Mäntsälä", postcode="04600"))
    assert lines[-1] == "04600 MÄNTSÄLÄ"


def test_whitespace_is_normalised_and_text_composed() -> None:
    decomposed = "A\u030akerstro\u0308m"  # Å and ö as base letter + combining mark
    recipient = make_recipient(last_name=f"  {decomposed}\t", street="Kauppakatu  1\n")
    assert address_lines(recipient)[:2] == ("Maria Åkerström", "Kauppakatu 1")


@pytest.mark.parametrize(
    ("field", "value"),
    [("street", ""), ("post_town", " "), ("postcode", "0010"), ("postcode", "SE-123")],
)
def test_unprintable_address_raises_naming_the_field_not_the_value(field: str, value: str) -> None:
    with pytest.raises(AddressError) as caught:
        address_lines(make_recipient(**{field: value}))
    assert caught.value.where == field
    assert "Virtanen" not in str(caught.value)


def test_presort_orders_by_postcode_then_street_then_name() -> None:
    people = [
        make_recipient(postcode="00200", street="Aku 1", last_name="Aalto"),
        make_recipient(postcode="00100", street="Bulevardi 2", last_name="Björk"),
        make_recipient(postcode="00100", street="Aleksanterinkatu 9", last_name="Öhman"),
        make_recipient(postcode="00100", street="Aleksanterinkatu 9", last_name="Aho"),
    ]
    ordered = sorted(people, key=presort_key)
    assert [(p.postcode, p.street, p.last_name) for p in ordered] == [
        ("00100", "Aleksanterinkatu 9", "Aho"),
        ("00100", "Aleksanterinkatu 9", "Öhman"),
        ("00100", "Bulevardi 2", "Björk"),
        ("00200", "Aku 1", "Aalto"),
    ]
