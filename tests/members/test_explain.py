"""Why a member was chosen, in words: every demo segment, in Finnish and Swedish."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dispatch.members.explain import Explainer
from tests import factories

SEGMENTS = Path(__file__).resolve().parents[2] / "segments"


@pytest.fixture
def groups(session: Session) -> None:
    for code, fi, sv in (
        ("baby", "Vauvatuotteet", "Babyprodukter"),
        ("fuel", "Polttoaineet", "Bränsle"),
    ):
        group = factories.product_group(session, code)
        group.name_fi, group.name_sv = fi, sv
    session.commit()


def explain(session: Session, name: str, language: str) -> str:
    path = SEGMENTS / f"{name}.yaml"
    lines = Explainer(session, language).segment(path.read_text(encoding="utf-8"), path.name)
    return "\n".join(("  " * depth) + text for depth, text in lines)


@pytest.mark.usefixtures("groups")
@pytest.mark.parametrize(
    ("name", "language", "expected"),
    [
        (
            "baby-households",
            "fi",
            [
                "Taloudet, jotka ovat ostaneet vauvatuotteita",
                "ostit tuoteryhmästä Vauvatuotteet viimeisten 6 kuukauden aikana "
                "vähintään 2 kertaa",
                "Talouteen lähetettiin yksi kirje",
            ],
        ),
        (
            "baby-households",
            "sv",
            [
                "Hushåll som köpt babyprodukter",
                "du köpte i produktgruppen Babyprodukter under de senaste 6 månaderna "
                "minst 2 gånger",
                "Ett hushåll fick ett brev",
            ],
        ),
        (
            "abc-fuel-pensioners",
            "fi",
            [
                "kaikki nämä:",
                "olet vähintään 65 vuotta",
                "ainakin yksi näistä:",
                "kotimyymäläsi kuuluu ketjuun ABC",
                "yhteensä vähintään 100 eurolla",
            ],
        ),
        (
            "abc-fuel-pensioners",
            "sv",
            [
                "du är minst 65 år",
                "minst ett av detta:",
                "din hembutik hör till kedjan ABC",
                "för sammanlagt minst 100 euro",
            ],
        ),
        (
            "helsinki-restaurant-regulars",
            "fi",
            [
                "kävit ravintoloissa Rosso, Amarillo, Fransmanni, Presto tai Coffee House kunnassa "
                "Helsinki viimeisten 3 kuukauden aikana vähintään 3 kertaa"
            ],
        ),
        (
            "bicycle-browsers",
            "sv",
            ["du tittade på cyklar i webbutiken under de senaste 90 dagarna", "du är minst 18 år"],
        ),
        ("swedish-ostrobothnia", "fi", ["asiointikielesi on ruotsi", "asut maakunnassa Pohjanmaa"]),
        (
            "nordic-air-travellers",
            "fi",
            ["katsoit verkkokaupassa aihetta matkat viimeisten 180 päivän aikana"],
        ),
    ],
)
def test_segments_read_as_sentences_in_the_members_language(
    session: Session, name: str, language: str, expected: list[str]
) -> None:
    said = explain(session, name, language)

    missing = [e for e in expected if e not in said]
    assert missing == [], said
    assert "where" not in said and "purchased" not in said and "SELECT" not in said.upper()


def test_a_segment_text_that_no_longer_parses_explains_nothing(session: Session) -> None:
    assert Explainer(session, "fi").segment("name: [unclosed", "old.yaml") == []
