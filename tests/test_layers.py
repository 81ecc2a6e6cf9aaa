"""The package layers, read from the source: bot -> fusion -> retrieval, and the library
never imports the benchmarks (benchmarks import the library, not the other way round)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> top-level packages of this project it may import
ALLOWED = {"retrieval": {"retrieval"}, "fusion": {"fusion", "retrieval"}, "bot": {"bot", "fusion", "retrieval"}}
PROJECT = {"retrieval", "fusion", "bot", "benchmarks", "launch", "tests"}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every import in a file, function-level imports included."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_library_layers(package: str) -> None:
    wrong = {f"{p.relative_to(ROOT)} imports {name}"
             for p in (ROOT / package).glob("*.py")
             for name in imported_packages(p) & PROJECT - ALLOWED[package]}
    assert not wrong, sorted(wrong)


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from benchmarks.redial import protocol\n    import bot.chat\n")
    assert imported_packages(f) == {"benchmarks", "bot"}
