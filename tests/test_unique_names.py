"""Every public name in ``cuekit`` is defined in one module only (issue 11).

Two modules that each define ``ERRORS_FILE`` or ``build_tiny_processor`` drift apart and
leave a reader guessing which one a caller gets. A module that needs another's name
imports it. The exceptions are attributes that every plug-in of one kind must define
under the same name (a protocol, not a duplicate).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import cuekit

PACKAGE = Path(cuekit.__file__).parent
# Names that are per-module by convention, not duplicates: a detector backend's contract
# attribute, a script's entry point, the module logger, a module-local TypeVar.
PROTOCOL_NAMES = frozenset({"BACKEND_NAME", "main", "logger", "T"})


def _top_level_names(path: Path) -> list[str]:
    """Public functions, classes and constants that ``path`` defines (not imports)."""
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [name for name in names if not name.startswith("_")]


def definitions() -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _top_level_names(path):
            where[name].append(str(path.relative_to(PACKAGE.parent)))
    return where


def test_no_public_name_is_defined_twice() -> None:
    twice = {
        name: files
        for name, files in definitions().items()
        if len(files) > 1 and name not in PROTOCOL_NAMES
    }
    assert twice == {}


def test_the_check_sees_a_duplicate(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("X = 1\ndef f():\n    pass\nclass C:\n    pass\n_private = 2\n")
    assert _top_level_names(module) == ["X", "f", "C"]
