"""``train()``: run one fine-tuning job in this process, whatever the method.

This is the seam the CLI and the job worker call. It picks the recipe for ``config.train.method``
(``sft``, the preference methods ``dpo``/``orpo``/``kto``, ``grpo``: a module each and a line
in ``_RECIPES``), and turns any failure
into a ``Failed`` event before re-raising it, so every caller reports failures the same way.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from loralab.config import RunConfig
from loralab.errors import LoralabError, Unsupported
from loralab.training.heavy_imports import import_paused
from loralab.training.reporter import Failed, Reporter

__all__ = ["RunResult", "StopEvent", "train"]

# method -> "module:function"; imported lazily so one method's heavy imports never load another's,
# and with the garbage collector paused (``heavy_imports``).
_RECIPES = {
    "sft": "loralab.training.sft:run_sft",
    "dpo": "loralab.training.preference:run_preference",
    "orpo": "loralab.training.preference:run_preference",
    "kto": "loralab.training.preference:run_preference",
    "grpo": "loralab.training.grpo:run_grpo",
}


@dataclass(frozen=True)
class RunResult:
    """How a run ended and where its files are.

    ``status`` is ``"completed"`` (adapter saved) or ``"stopped"`` (a checkpoint to resume from,
    unless the stop came before the first step).
    """

    status: Literal["completed", "stopped"]
    step: int
    total_steps: int
    output_dir: Path
    adapter_dir: Path | None = None
    checkpoint_dir: Path | None = None
    run_card: Path | None = None
    resumed_from: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as strings."""
        return {
            "status": self.status,
            "step": self.step,
            "total_steps": self.total_steps,
            "output_dir": str(self.output_dir),
            "adapter_dir": str(self.adapter_dir) if self.adapter_dir else None,
            "checkpoint_dir": str(self.checkpoint_dir) if self.checkpoint_dir else None,
            "run_card": str(self.run_card) if self.run_card else None,
            "resumed_from": self.resumed_from,
            "metrics": dict(self.metrics),
        }


class StopEvent(Protocol):
    """Anything with ``is_set()``: a ``threading.Event`` set by Ctrl-C or SIGTERM."""

    def is_set(self) -> bool: ...


class Recipe(Protocol):
    def __call__(
        self, config: RunConfig, reporter: Reporter, *, resume: bool, stop: StopEvent | None
    ) -> RunResult: ...


def train(
    config: RunConfig,
    reporter: Reporter,
    *,
    resume: bool = False,
    stop: StopEvent | None = None,
) -> RunResult:
    """Fine-tune as ``config`` says, reporting progress to ``reporter``.

    Args:
        config: the validated run config; files go under ``config.output.dir``.
        reporter: receives every event (see ``loralab.training.reporter``).
        resume: continue from the last complete checkpoint in the output folder (starts from
            scratch, with a log line, when there is none).
        stop: any object with ``is_set()``; once set, the run saves a checkpoint at the end of
            the current step and returns with status ``"stopped"``.

    Returns:
        A ``RunResult``.

    Raises:
        Unsupported: the method has no recipe.
        Conflict: the output folder holds an earlier run and ``resume`` is False.
        DataError, ModelError, ConfigError, HubUnavailable: from loading data or the model.
        Any other exception from the training libraries. Before raising, a ``Failed`` event is
        reported with the reason and traceback.
    """
    try:
        return _recipe(config.train.method)(config, reporter, resume=resume, stop=stop)
    except KeyboardInterrupt:
        reporter.report(Failed(reason="aborted (interrupted twice)", code="aborted"))
        raise
    except LoralabError as exc:
        reporter.report(
            Failed(reason=str(exc), code=exc.code, fix=exc.fix, traceback=traceback.format_exc())
        )
        raise
    except Exception as exc:
        reporter.report(
            Failed(reason=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        )
        raise


def _recipe(method: str) -> Recipe:
    target = _RECIPES.get(method)
    if target is None:
        raise Unsupported(
            f"Training method '{method}' is not available yet.",
            fix=f"Use one of: {', '.join(sorted(_RECIPES))}.",
        )
    module, _, name = target.partition(":")
    return getattr(import_paused(module), name)
