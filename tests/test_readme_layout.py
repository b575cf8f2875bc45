"""The README's layout section names every module of the package, one line each."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Layout")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def test_every_module_has_one_line_in_the_readme_layout() -> None:
    rows = dict(re.findall(r"^\| `(cuekit/[^`]+\.py)` \| (.*) \|$", _layout_section(), re.M))
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "cuekit").rglob("*.py")}
    assert sorted(modules - rows.keys()) == [], "modules missing from README's layout"
    assert sorted(rows.keys() - modules) == [], "README's layout names modules that are gone"
    empty = [name for name, text in rows.items() if not text.strip()]
    assert empty == [], f"modules without a description: {empty}"
