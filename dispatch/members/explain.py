"""Why a member was chosen, in plain Finnish or Swedish: a segment's criteria in words.

A campaign keeps the exact segment text it was approved with; this module parses it
again (:func:`dispatch.segmenting.spec.parse`) and says each criterion as a sentence,
with product groups by their names in the member's language, never as SQL or codes.
The result is a list of (depth, text) lines that the export's text and HTML parts
both lay out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import DispatchError
from dispatch.register.models import ProductGroup
from dispatch.segmenting import spec, tree

Line = tuple[int, str]

_CATEGORIES = {
    "fi": {
        "bicycles": "polkupyörät",
        "baby": "vauvatarvikkeet",
        "electronics": "elektroniikka",
        "home": "koti",
        "garden": "puutarha",
        "travel": "matkat",
        "sports": "urheilu",
        "fashion": "muoti",
    },
    "sv": {
        "bicycles": "cyklar",
        "baby": "babyartiklar",
        "electronics": "elektronik",
        "home": "hem",
        "garden": "trädgård",
        "travel": "resor",
        "sports": "sport",
        "fashion": "mode",
    },
}
_GROUPS = {
    "fi": {"all": "kaikki nämä:", "any": "ainakin yksi näistä:", "none": "ei mikään näistä:"},
    "sv": {"all": "allt detta:", "any": "minst ett av detta:", "none": "inget av detta:"},
}
_WORDS = {
    "fi": {
        "or": "tai",
        "language.fi": "suomi",
        "language.sv": "ruotsi",
        "unit.household": "Talouteen lähetettiin yksi kirje, vaikka siinä olisi useampi jäsen.",
        "chose": "Sinut valittiin, koska",
    },
    "sv": {
        "or": "eller",
        "language.fi": "finska",
        "language.sv": "svenska",
        "unit.household": "Ett hushåll fick ett brev, även om det har flera medlemmar.",
        "chose": "Du valdes eftersom",
    },
}


def _date(value: dt.date) -> str:
    return f"{value.day}.{value.month}.{value.year}"


def _money(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",").replace(",00", "")


def _names(names: tuple[tree.Name, ...], language: str) -> str:
    values = [n.value for n in names]
    if len(values) == 1:
        return values[0]
    return ", ".join(values[:-1]) + f" {_WORDS[language]['or']} " + values[-1]


class Explainer:
    """Says segments in words in one language, with product-group names from the register."""

    def __init__(self, session: Session, language: str) -> None:
        self.language = language if language in _WORDS else "fi"
        column = ProductGroup.name_sv if self.language == "sv" else ProductGroup.name_fi
        self._groups: Mapping[str, str] = dict(
            session.execute(select(ProductGroup.code, column)).all()
        )

    def segment(self, source: str, name: str) -> list[Line]:
        """The lines that explain the segment text ``source`` (empty if it no longer parses)."""
        try:
            segment = spec.parse(source, name)
        except DispatchError:
            return []
        lines: list[Line] = []
        description = segment.description_for(self.language)
        if description:
            lines.append((0, description))
        lines.append((0, _WORDS[self.language]["chose"]))
        lines.extend(self._node(segment.where, 1))
        if segment.unit == "household":
            lines.append((0, _WORDS[self.language]["unit.household"]))
        return lines

    def _node(self, node: tree.Node, depth: int) -> list[Line]:
        if isinstance(node, tree.Group):
            if len(node.items) == 1 and node.op == "all":
                return self._node(node.items[0], depth)
            lines: list[Line] = [(depth, _GROUPS[self.language][node.op])]
            for item in node.items:
                lines.extend(self._node(item, depth + 1))
            return lines
        return [(depth, _say(self, node))]

    def group(self, code: str) -> str:
        return self._groups.get(code, code)


def category_name(language: str, code: str) -> str:
    """A web-shop category in words ("polkupyörät"); an unknown one as its code."""
    return _CATEGORIES.get(language, _CATEGORIES["fi"]).get(code, code)


def _age(c: tree.Age, at_least: str, at_most: str, between: str) -> str:
    if c.min is not None and c.max is not None:
        return between.format(c.min, c.max)
    if c.min is not None:
        return at_least.format(c.min)
    return at_most.format(c.max)


def _since(c: tree.MemberSince, after: str, before: str, joiner: str) -> str:
    parts = []
    if c.after:
        parts.append(after.format(_date(c.after)))
    if c.before:
        parts.append(before.format(_date(c.before)))
    return joiner.join(parts)


#: The sentence of each kind of criterion, per language; ``{}`` fields are filled in.
_PHRASES = {
    "fi": {
        "purchased": "ostit tuoteryhmästä {group} viimeisten {months} kuukauden aikana",
        "min_count": " vähintään {count} kertaa",
        "min_amount": " yhteensä vähintään {amount} eurolla",
        "visited": "kävit ravintoloissa {chains}{where} viimeisten {months} kuukauden "
        "aikana vähintään {visits} kertaa",
        "visited_in": " kunnassa {municipality}",
        "browsed": "katsoit verkkokaupassa aihetta {category} viimeisten {days} päivän aikana",
        "age_min": "olet vähintään {} vuotta",
        "age_max": "olet enintään {} vuotta",
        "age_range": "olet {}\N{EN DASH}{} vuotta",
        "language": "asiointikielesi on {language}",
        "region": "asut maakunnassa {names}",
        "municipality": "asut kunnassa {names}",
        "postcode": "postinumerosi alkaa {prefixes}",
        "chain": "kotimyymäläsi kuuluu ketjuun {names}",
        "since_after": "olet ollut kanta-asiakas {} jälkeen",
        "since_before": "liityit ennen {}",
        "and": " ja ",
    },
    "sv": {
        "purchased": "du köpte i produktgruppen {group} under de senaste {months} månaderna",
        "min_count": " minst {count} gånger",
        "min_amount": " för sammanlagt minst {amount} euro",
        "visited": "du besökte restaurangerna {chains}{where} under de senaste {months} "
        "månaderna minst {visits} gånger",
        "visited_in": " i {municipality}",
        "browsed": "du tittade på {category} i webbutiken under de senaste {days} dagarna",
        "age_min": "du är minst {} år",
        "age_max": "du är högst {} år",
        "age_range": "du är {}\N{EN DASH}{} år",
        "language": "ditt språk är {language}",
        "region": "du bor i landskapet {names}",
        "municipality": "du bor i kommunen {names}",
        "postcode": "ditt postnummer börjar med {prefixes}",
        "chain": "din hembutik hör till kedjan {names}",
        "since_after": "du har varit stamkund sedan {}",
        "since_before": "du blev medlem före {}",
        "and": " och ",
    },
}


def _say(x: Explainer, node: tree.Criterion) -> str:
    """One criterion as a sentence in the explainer's language."""
    lang = x.language
    say = _PHRASES[lang]
    match node:
        case tree.Purchased():
            text = say["purchased"].format(
                group=x.group(node.group.value), months=node.within_months
            )
            if node.min_count:
                text += say["min_count"].format(count=node.min_count)
            if node.min_amount:
                text += say["min_amount"].format(amount=_money(node.min_amount))
            return text
        case tree.Visited():
            where = node.municipality
            return say["visited"].format(
                chains=_names(node.chains, lang),
                where=say["visited_in"].format(municipality=where.value) if where else "",
                months=node.within_months,
                visits=node.min_visits,
            )
        case tree.Browsed():
            category = category_name(lang, node.category.value)
            return say["browsed"].format(category=category, days=node.within_days)
        case tree.Age():
            return _age(node, say["age_min"], say["age_max"], say["age_range"])
        case tree.LanguageIs():
            return say["language"].format(language=_WORDS[lang]["language." + node.language.value])
        case tree.Region():
            return say["region"].format(names=_names(node.names, lang))
        case tree.Municipality():
            return say["municipality"].format(names=_names(node.names, lang))
        case tree.PostcodePrefix():
            return say["postcode"].format(prefixes=f" {_WORDS[lang]['or']} ".join(node.prefixes))
        case tree.HomeStoreChain():
            return say["chain"].format(names=_names(node.chains, lang))
        case tree.MemberSince():
            return _since(node, say["since_after"], say["since_before"], say["and"])
