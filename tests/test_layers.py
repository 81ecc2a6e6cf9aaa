"""The package layers, read from the source.

- retrieval <- fusion <- bot: a lower layer never imports a higher one;
- inside bot: the conversation (pure: no HTTP, SQL, Gradio, Ray or Redis) <- the service
  (HTTP, web UI, stores, serving, logbook writing) and <- the offline tools (learning,
  replay), which may read the logbook; the service never imports the offline tools;
- the library never imports the benchmarks, launch.py or the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> packages of this project it may import (a dotted prefix allows what is below it)
ALLOWED = {
    "retrieval": {"retrieval"},
    "fusion": {"fusion", "retrieval"},
    "bot": set(),  # bot/__init__.py: nothing
    "bot.conversation": {"bot.conversation", "fusion", "retrieval"},
    "bot.service": {"bot.conversation", "bot.service", "fusion", "retrieval"},
    "bot.offline": {"bot.conversation", "bot.offline", "bot.service.logbook", "fusion", "retrieval"},
}
PROJECT = {"retrieval", "fusion", "bot", "benchmarks", "launch", "tests"}
# What makes a module part of the service and not the conversation.
SERVICE_ONLY = {"gradio", "fastapi", "starlette", "uvicorn", "sqlite3", "http", "socket", "ray", "redis", "httpx",
                "asyncio"}


def imported_modules(path: Path) -> set[str]:
    """Full dotted names of every import in a file, function-level imports included
    (`from a.b import c` gives `a.b.c` and `a.b`: c may be a module or a name)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def imported_packages(path: Path) -> set[str]:
    return {m.split(".")[0] for m in imported_modules(path)}


def allowed(module: str, rules: set[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in rules)


def modules_of(package: str) -> list[Path]:
    folder = ROOT / package.replace(".", "/")
    return sorted(folder.glob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_library_layers(package: str) -> None:
    wrong = {f"{p.relative_to(ROOT)} imports {m}"
             for p in modules_of(package)
             for m in imported_modules(p)
             if m.split(".")[0] in PROJECT and not allowed(m, ALLOWED[package])}
    assert not wrong, sorted(wrong)


def test_the_conversation_is_pure() -> None:
    wrong = {f"{p.relative_to(ROOT)} imports {name}"
             for p in modules_of("bot.conversation") for name in imported_packages(p) & SERVICE_ONLY}
    assert not wrong, sorted(wrong)


def test_every_bot_module_is_in_a_layer() -> None:
    """bot/ holds only its __init__ and the three layer packages: a new module picks one."""
    loose = sorted(p.name for p in (ROOT / "bot").glob("*.py") if p.name != "__init__.py")
    packages = sorted(p.name for p in (ROOT / "bot").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert loose == [] and packages == ["conversation", "offline", "service"], (loose, packages)


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from benchmarks.redial import protocol\n    import bot.conversation.chat\n")
    assert imported_packages(f) == {"benchmarks", "bot"}
    assert imported_modules(f) == {"benchmarks.redial", "bot.conversation.chat"}
    assert not allowed("bot.service.api", ALLOWED["bot.conversation"])
    assert allowed("bot.service.logbook", ALLOWED["bot.offline"])
