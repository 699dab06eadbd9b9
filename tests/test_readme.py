"""The README is what a user has: its configuration table and Notion property list must
match the code, so a renamed setting or a new property cannot leave it behind."""

from __future__ import annotations

import re
from pathlib import Path

from batchcook.cli_export import FORMATS
from batchcook.config import Settings, env_var
from batchcook.recipes.fixtures import carbonara
from batchcook.recipes.jsonld import recipe_jsonld
from batchcook.recipes.notion_mapping import OPTIONAL_PROPERTIES, required_schema
from batchcook.testing.openai_emulator import shipped_fixtures

README = (Path(__file__).parents[1] / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n{title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _environment_variables() -> set[str]:
    names = {env_var(field) for field in Settings.model_fields}
    assert {"BATCHCOOK_MODE", "OPENAI_API_KEY", "DBOS__VMID"} <= names  # both kinds found
    return names


def test_every_setting_has_one_well_formed_row() -> None:
    rows = [line for line in _section("## Configuration").splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        match = re.fullmatch(r"\| `([A-Z][A-Z0-9_]*)` \| [^|]+ \| [^|]+ \|", row)
        assert match, f"garbled configuration row: {row[:80]}"
        documented.append(match.group(1))
    assert len(documented) == len(set(documented))
    assert _environment_variables() <= set(documented)


def test_notion_properties_listed_with_their_types() -> None:
    table = _section("### Notion requirements")
    cells = re.findall(r"\| `([^`]+)` \| (\w+) ", table)
    assert dict(cells) == required_schema()
    for name, kind in OPTIONAL_PROPERTIES.items():
        assert f"`{name}` ({kind}" in table


def test_export_section_names_every_format_and_jsonld_property() -> None:
    section = _section("### Recipes as files: the local store and `batchcook export`")
    assert [f for f in FORMATS if f"- `{f}`:" in section] == list(FORMATS)
    data = recipe_jsonld(carbonara(), image_url="https://example.com/c.jpg")
    data |= {"suitableForDiet": ["https://schema.org/VeganDiet"]}  # carbonara has none
    missing = [key for key in data if not key.startswith("@") and f"`{key}`" not in section]
    assert missing == [], f"README does not mention {missing}"


def test_fixtures_section_lists_every_shipped_recipe() -> None:
    section = _section("#### Fixtures: what the emulated model answers")
    for fixture in shipped_fixtures().fixtures:
        assert fixture.response is not None
        assert f"| `{fixture.name}` |" in section and fixture.response["title"] in section
    for rule in shipped_fixtures().modifications:
        assert rule.name in section.split("The shipped rules:")[1]
