"""Where a run writes its files, under ``config.output.dir``:

- ``config.yaml``: the resolved config (``loralab train config.yaml`` repeats the run)
- ``checkpoints/checkpoint-N/``: Trainer checkpoints, resumable once they hold ``COMPLETE``
- ``adapter/``: the final PEFT adapter and tokenizer
- ``run_card.json`` and ``README.md``: the run card and a short model card
- ``data/heldout.jsonl``: the conversations held out for evaluation (``data.eval_fraction`` or
  ``data.eval_split``), one canonical row a line; ``loralab`` evaluations default to them
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from loralab.config import RunConfig, dump_run_config
from loralab.errors import Conflict
from loralab.training.checkpoints import (
    last_complete_checkpoint,
    list_checkpoints,
    remove_incomplete,
)
from loralab.training.reporter import LogLine, Reporter
from loralab.training.run_card import RUN_CARD_NAME

__all__ = ["RunLayout", "prepare_output_dir", "save_adapter"]


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run's output folder."""

    root: Path

    @classmethod
    def at(cls, output_dir: str | Path) -> RunLayout:
        return cls(Path(output_dir).expanduser().resolve())

    @property
    def config_yaml(self) -> Path:
        return self.root / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def run_card(self) -> Path:
        return self.root / RUN_CARD_NAME

    @property
    def heldout(self) -> Path:
        return self.root / "data" / "heldout.jsonl"

    def has_previous_run(self) -> bool:
        """Whether an earlier run left checkpoints, an adapter or a run card here."""
        return (
            bool(list_checkpoints(self.checkpoints))
            or self.adapter.exists()
            or self.run_card.exists()
        )

    def last_checkpoint(self) -> Path | None:
        """The last complete checkpoint folder, or None."""
        ckpt = last_complete_checkpoint(self.checkpoints)
        return ckpt.path if ckpt else None


def prepare_output_dir(
    layout: RunLayout, config: RunConfig, *, resume: bool, reporter: Reporter
) -> Path | None:
    """Check the output folder, write ``config.yaml``, and return the checkpoint to resume from.

    Raises:
        Conflict: the folder holds an earlier run and ``resume`` is False.
    """
    if not resume and layout.has_previous_run():
        raise Conflict(
            f"{layout.root} already holds a run.",
            fix="pass --resume to continue it, or choose another output.dir / --output-dir",
        )
    resume_from = None
    if resume:
        for path in remove_incomplete(layout.checkpoints):
            reporter.report(
                LogLine(message=f"Removed incomplete checkpoint {path.name}", level="warning")
            )
        resume_from = layout.last_checkpoint()
        if resume_from is None:
            reporter.report(
                LogLine(message="No complete checkpoint to resume from; starting from step 0.")
            )
        else:
            reporter.report(LogLine(message=f"Resuming from {resume_from}"))
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.config_yaml.write_text(dump_run_config(config), encoding="utf-8")
    return resume_from


def save_adapter(model, tokenizer, path: Path) -> None:
    """Save the PEFT adapter and tokenizer to ``path`` atomically (temp folder, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
