"""Naming what the user probably meant, one way everywhere.

A segment's municipality, product group, chain or web category and a feed row's
product group are all checked against the register's names; an unknown one is
answered the same way: the closest known values (``difflib`` after NFKC and case
folding, as a slip usually stays close), or, when none is close, the values there
are; and the characters that only look right (a Cyrillic ``i``, U+0456, in
``Helsinki``), which would otherwise count zero without a word.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

#: How many close values a message offers at most.
CLOSEST = 3
#: A value list longer than this is shortened in messages.
SHOWN = 12


def lookalikes(value: str, known: Iterable[str]) -> list[str]:
    """The characters of ``value`` that no known value uses and that are not ASCII,
    each as ``'<char>' U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I``."""
    seen = {char for name in known for char in name}
    found: list[str] = []
    for char in dict.fromkeys(value):
        if char.isascii() or char in seen:
            continue
        name = unicodedata.name(char, "unnamed character")
        found.append(f"{char!r} U+{ord(char):04X} {name}")
    return found


def unknown(what: str, value: str, known: Iterable[str], *, lead: str = "unknown") -> str:
    """``<lead> <what> <value>; did you mean 'a', 'b'?`` (or the known values, or a
    note that there are none), with the look-alike characters when there are any."""
    known = sorted(set(known))
    # NFKC and case folding first: "HELSINKI" or a full-width letter is close to the
    # real name even where plain difflib would score it low.
    folded = {unicodedata.normalize("NFKC", name).casefold(): name for name in known}
    key = unicodedata.normalize("NFKC", value).casefold()
    close = [folded[k] for k in difflib.get_close_matches(key, folded, n=CLOSEST, cutoff=0.6)]
    if close:
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?"
    elif not known:
        hint = "; the register has none yet"
    else:
        shown = ", ".join(known[:SHOWN]) + (", ..." if len(known) > SHOWN else "")
        hint = f"; known: {shown}"
    odd = lookalikes(value, known) if known else []
    if odd:
        hint += f" ({value!r} has {', '.join(odd)}, which no known value has)"
    return f"{lead} {what} {value!r}{hint}"
