"""A recipe's first import runs with the garbage collector paused and freezes what it left
alive; the collector is on again afterwards, even when the import fails, and a module already
imported changes nothing. Each case runs in a fresh interpreter, as ``loralab train`` does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_sft_recipe_imports_the_ml_stack_paused_then_frozen():
    facts = _run(
        """
        import gc, json, sys
        from loralab.training.run import _recipe
        before = gc.get_freeze_count()
        assert "torch" not in sys.modules and "trl" not in sys.modules
        recipe = _recipe("sft")
        frozen = gc.get_freeze_count()
        again = _recipe("sft")
        print(json.dumps({
            "before": before, "frozen": frozen, "after_again": gc.get_freeze_count(),
            "enabled": gc.isenabled(), "same": recipe is again, "name": recipe.__name__,
            "trl": "trl.trainer.sft_trainer" in sys.modules,
        }))
        """
    )
    assert facts["before"] == 0
    assert facts["frozen"] > 100_000  # torch, transformers, PEFT and TRL's objects
    assert facts["after_again"] == facts["frozen"]  # already imported: nothing frozen
    assert facts["enabled"] and facts["same"] and facts["name"] == "run_sft"
    assert facts["trl"]  # TRL's trainer is imported inside the paused window


def test_a_failing_import_turns_the_collector_back_on():
    facts = _run(
        """
        import gc, json
        from loralab.training.heavy_imports import import_paused
        try:
            import_paused("loralab.no_such_module")
        except ModuleNotFoundError as exc:
            error = str(exc)
        print(json.dumps({"enabled": gc.isenabled(), "error": error}))
        """
    )
    assert facts["enabled"]
    assert "loralab.no_such_module" in facts["error"]


def test_a_caller_that_turned_the_collector_off_keeps_it_off_and_nothing_is_frozen():
    facts = _run(
        """
        import gc, json
        from loralab.training.heavy_imports import import_paused
        gc.disable()
        import_paused("loralab.training.sft_data")
        print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
        """
    )
    assert facts == {"enabled": False, "frozen": 0}
