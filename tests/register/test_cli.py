"""``dispatch register product-groups`` and ``stats``: what scripts and the demo read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def seeded_cli(cli: Cli) -> Cli:
    result = cli("register", "seed", "--members", "200", "--as-of", "2025-05-15", "--json")
    assert result.code == 0, result.err
    return cli


def test_product_groups_json_lists_the_hierarchy_with_names_and_flags(seeded_cli: Cli) -> None:
    result = seeded_cli("register", "product-groups", "--json")

    assert result.code == 0, result.err
    groups = {g["code"]: g for g in json.loads(result.out)["product_groups"]}
    assert groups["diapers"] == {
        "code": "diapers", "name_fi": "Vaipat", "name_sv": "Blöjor", "parent": "baby",
        "sensitive": False,
    }  # fmt: skip
    assert groups["bicycles"]["parent"] == "sports"
    assert groups["medicines"]["sensitive"] is True
    assert groups["medicines"]["parent"] == "pharmacy"


def test_product_groups_sensitive_lists_only_the_special_category(seeded_cli: Cli) -> None:
    result = seeded_cli("register", "product-groups", "--sensitive", "--json")

    codes = {g["code"] for g in json.loads(result.out)["product_groups"]}
    assert {"pharmacy", "medicines", "special_diet", "gluten_free_diet"} <= codes
    assert "baby" not in codes


def test_product_groups_table_for_people(seeded_cli: Cli) -> None:
    result = seeded_cli("register", "product-groups", "--sensitive")

    assert result.code == 0
    assert "pharmacy" in result.out
    assert "diapers" not in result.out


def test_stats_counts_every_register_table(cli: Cli, feed_sample: Path) -> None:
    empty = json.loads(cli("register", "stats", "--json").out)["counts"]
    assert set(empty.values()) == {0}

    cli("register", "import", str(feed_sample))
    counts = json.loads(cli("register", "stats", "--json").out)["counts"]

    assert counts["members"] == 3
    assert counts["consent_events"] == 4
    assert counts["suppressions"] == 2
    table = cli("register", "stats")
    assert table.code == 0
    assert "purchase_summaries" in table.out


def test_import_of_a_missing_folder_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("register", "import", str(tmp_path / "nowhere"))

    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
