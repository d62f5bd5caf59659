"""The ``demo_model`` kind: build the tiny demo model in a worker and register it.

A random init of a real architecture (Qwen2 or Llama) with a locally trained tokenizer and a
chat template, made offline in seconds, into ``<data dir>/models/tiny-<arch>``: it learns little,
but runs the whole workflow on any CPU. The folder is written beside its final place and moved
there only when complete, so a stopped build leaves nothing half-made.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field

from loralab.config import StrictModel
from loralab.jobs.kinds import JobKind, Outcome, WorkContext

__all__ = [
    "KIND",
    "DemoModelSpec",
    "demo_model_dir",
    "is_complete_model",
    "register_built_model",
]


class DemoModelSpec(StrictModel):
    """Which tiny demo model to build."""

    arch: Literal["qwen2", "llama"] = Field(
        default="qwen2", description="The real architecture the tiny model is a small copy of."
    )


def demo_model_dir(data_dir: Path, arch: str) -> Path:
    """``<data dir>/models/tiny-<arch>``."""
    return (Path(data_dir).expanduser() / "models" / f"tiny-{arch}").resolve()


def is_complete_model(folder: Path) -> bool:
    """Whether ``folder`` holds a finished build (config and tokenizer written)."""
    return (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()


def run_demo_model(ctx: WorkContext) -> Outcome:
    """Build the model (unless it is there) and register it; returns ``{"model_id": ...}``."""
    from loralab.errors import ModelError
    from loralab.models import make_tiny_model

    spec = DemoModelSpec.model_validate(ctx.job.config)
    out = demo_model_dir(ctx.settings.data_dir, spec.arch)
    if not is_complete_model(out):
        if out.exists():
            raise ModelError(
                f"{out} exists and is not a model folder.",
                code="tiny_model_failed",
                fix="Move that folder away, then build the demo model again.",
            )
        ctx.reporter.emit("phase", {"name": "building", "message": f"Building tiny-{spec.arch}"})
        out.parent.mkdir(parents=True, exist_ok=True)
        scratch = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
        try:
            make_tiny_model(scratch, arch=spec.arch)
            scratch.rename(out)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return register_built_model(ctx, out, name=f"tiny-{spec.arch} (demo)")


def register_built_model(ctx: WorkContext, folder: Path, *, name: str) -> Outcome:
    """Register the finished ``folder`` as a model (once) and complete the job with its id."""
    from loralab.models import describe_model_folder
    from loralab.store.models import add_model, find_model_by_path
    from loralab.store.tables import ModelRow

    info = describe_model_folder(folder)
    with ctx.reporter.db.write() as session:
        row: ModelRow | None = find_model_by_path(session, str(folder))
        if row is None:
            row = add_model(session, name=name, path=str(folder), info=info)
        model_id = row.id
    ctx.reporter.log(f"{name} is ready as model:{model_id}")
    ctx.reporter.emit("finished", {"model_id": model_id})
    return Outcome("completed", {"model_id": model_id})


KIND = JobKind(
    name="demo_model",
    title="Demo model build",
    description="Build a tiny model of a real architecture offline, to try the whole workflow.",
    spec=DemoModelSpec,
    run=run_demo_model,
    device=False,
    outputs="jobs",
    refers_to=("model",),
    submittable=False,
)
