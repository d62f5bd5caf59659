"""The ``loralab`` entry point: every command reachable, and each one importing only its own."""

from __future__ import annotations

import json
import subprocess
import sys

from loralab.cli.app import COMMANDS

# Runs main() with the given arguments, then reports which heavy modules the process imported.
PROBE = """
import json, sys
from loralab.cli.app import main
sys.argv = ["loralab", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = ["sqlalchemy", "loralab.store", "loralab.services.adapters", "torch"]
print(json.dumps({"code": code, "imported": [m for m in heavy if m in sys.modules]}),
      file=sys.stderr)
"""


def _run(*args: str) -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    return json.loads(proc.stderr.strip().splitlines()[-1]), proc.stdout


def test_train_help_does_not_import_the_store_or_torch():
    report, out = _run("train", "--help")
    assert report["code"] == 0
    assert "A run config YAML" in out
    assert report["imported"] == []


def test_models_list_does_not_import_the_store():
    # add-starter registers a model in the store; the catalog itself needs none of it.
    report, out = _run("models", "list", "--json")
    assert report["code"] == 0
    assert any(m["id"].startswith("HuggingFaceTB/SmolLM2") for m in json.loads(out))
    assert [m for m in report["imported"] if m != "torch"] == []


def test_top_level_help_lists_every_command():
    report, out = _run("--help")
    assert report["code"] == 0
    for name in COMMANDS:
        assert f" {name} " in out, name
    assert "Fine-tune open LLMs with LoRA" in out  # the app's help, once


def test_a_group_command_still_runs_as_a_subcommand():
    report, out = _run("config", "show", "--help")
    assert report["code"] == 0
    assert "Usage: loralab config show" in out


def test_unknown_command_is_a_usage_error_naming_it():
    proc = subprocess.run(
        [sys.executable, "-c", "from loralab.cli import main; main()", "trian"],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "No such command 'trian'" in proc.stderr
