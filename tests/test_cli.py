"""One command line: launch.py serves, and the offline tools are its subcommands."""

from __future__ import annotations

import pytest

import launch


@pytest.mark.parametrize("command", sorted(launch.COMMANDS))
def test_each_subcommand_reaches_its_tool(command, capsys):
    with pytest.raises(SystemExit) as e:
        launch.main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")  # the tool's own parser answered, not the server's
    assert "--port" not in out


def test_the_serve_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        launch.main(["--help"])
    out = capsys.readouterr().out
    assert all(f"launch.py {c}" in out for c in launch.COMMANDS)


def test_a_logbook_summary_through_launch(tmp_path, capsys):
    from bot.service.logbook import Logbook

    Logbook(tmp_path / "log.sqlite")  # an empty logbook
    assert launch.main(["logbook", "summary", "--db", str(tmp_path / "log.sqlite")]) == 0
    assert capsys.readouterr().out.strip()


def test_a_first_build_answers_early_unless_the_flags_say_otherwise():
    assert launch.answers_early(launch.parse_args([]))
    for flags in (["--wait-for-build"], ["--build-only"], ["--catalog", "redial"],
                  ["--admin-token-file", "token"]):  # live catalog changes would go to the quick pipeline
        assert not launch.answers_early(launch.parse_args(flags)), flags
