"""The roles table in docs/service.md says exactly what `PERMISSIONS` does.

Administrators and partners decide from the document who may do what; a table
that drifted from the code would be a wrong answer to "who can approve?".
"""

from __future__ import annotations

from pathlib import Path

from dispatch.accounts.roles import PERMISSIONS, READ_ACTIONS, Action, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"
READ_COLUMN = "read token"


def _roles_table() -> tuple[list[str], list[list[str]]]:
    """The header cells and rows of the table whose first header cell is 'action'."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| action |"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, _rule, *rows = table
    return header, rows


def test_the_roles_table_in_the_docs_matches_permissions() -> None:
    header, rows = _roles_table()

    roles = [cell.strip("`") for cell in header[2:-1]]
    assert sorted(roles) == sorted(r.value for r in Role), "a role column is missing or extra"
    assert header[-1] == READ_COLUMN
    actions = [row[0].strip("`") for row in rows]
    assert sorted(actions) == sorted(a.value for a in Action), "an action row is missing or extra"
    for row in rows:
        action = Action(row[0].strip("`"))
        marked = {Role(role) for role, cell in zip(roles, row[2:-1], strict=True) if cell == "yes"}
        assert marked == PERMISSIONS[action], f"{action.value}: the docs say {sorted(marked)}"
        assert all(cell in {"yes", ""} for cell in row[2:]), row
        assert (row[-1] == "yes") == (action in READ_ACTIONS), f"{action.value}: read token"
