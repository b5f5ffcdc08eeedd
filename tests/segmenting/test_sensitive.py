"""No segment can use special-category product groups (GDPR Art. 9), in any position.

Excluding pharmacy buyers still processes health data, so ``none`` is refused too;
so is a parent group whose subtree holds a sensitive group, and any group inside a
sensitive subtree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dispatch.errors import DispatchError
from dispatch.segmenting import services
from tests.conftest import CliResult
from tests.segmenting.conftest import AS_OF, Register, segment

POSITIONS = {
    "all": ("all:\n  - {criterion}", "where.all[0].purchased.group"),
    "any": ("any:\n  - language: fi\n  - {criterion}", "where.any[1].purchased.group"),
    "none": ("all:\n  - language: fi\nnone:\n  - {criterion}", "where.none[0].purchased.group"),
    "nested": (
        "all:\n  - language: fi\n  - any:\n      - age: {{min: 18}}\n"
        "      - none:\n          - all:\n              - {criterion}",
        "where.all[1].any[1].none[0].all[0].purchased.group",
    ),
}
GROUPS = {
    "pharmacy": "is special-category data",
    "medicines": "is inside the sensitive group 'pharmacy'",
    "groceries": "includes the sensitive groups 'diet', 'gluten_free'",
    "diet": "is special-category data",
    "gluten_free": "is special-category data",
}


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("group", GROUPS)
def test_sensitive_group_is_refused_in_every_position(
    session: Session, register: Register, position: str, group: str
) -> None:
    template, path = POSITIONS[position]
    criterion = f"purchased: {{group: {group}, within_months: 12}}"
    seg = segment(template.format(criterion=criterion))

    for run in (
        lambda: services.count(session, seg, as_of=AS_OF),
        lambda: services.selection(session, seg, as_of=AS_OF),
        lambda: services.explain(session, seg, as_of=AS_OF),
    ):
        with pytest.raises(DispatchError) as raised:
            run()
        message = str(raised.value)
        assert f": {path}: product group {group!r} {GROUPS[group]}" in message
        assert "GDPR Art. 9" in message
        assert raised.value.exit_code == 2


def test_non_sensitive_sibling_of_a_sensitive_group_is_allowed(
    session: Session, register: Register
) -> None:
    seg = segment("all:\n  - purchased: {group: dairy, within_months: 12}")

    assert services.count(session, seg, as_of=AS_OF).matched == 0


def test_segment_check_reports_the_sensitive_group(
    session: Session,
    register: Register,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    session.commit()
    path = tmp_path / "pharmacy.yaml"
    path.write_text(
        "name: pharmacy\npurpose: own_marketing\nchannel: post\n"
        "where:\n  all:\n    - language: fi\n"
        "  none:\n    - purchased: {group: medicines, within_months: 3}\n"
    )

    result = cli("segment", "check", str(path))

    assert result.code == 2
    assert f"{path}:8: where.none[0].purchased.group: product group 'medicines'" in result.err
