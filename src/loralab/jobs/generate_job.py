"""The ``generate`` kind: batch testing, one model answering many prompts.

The prompts are ``lines`` given in the spec or a registered dataset (``dataset:<id>``): one
prompt per line of a ``.txt`` file, JSON lines with ``prompt`` (or ``messages``) and an optional
``expected``, or conversations whose last assistant message is the expected answer. The model
is ``model:<id>``, ``adapter:<id>`` or a hub id, resolved at submit time. The worker loads an
``Engine`` and follows ``loralab.evaluation.batch``; the answers land in
``<data dir>/evaluations/<job-id>/results.jsonl`` (``GET /api/jobs/{id}/results`` downloads them).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator
from sqlalchemy.orm import Session

from loralab.config import DataConfig, Settings, StrictModel
from loralab.jobs.kinds import JobKind, Outcome, Prepared, Submission, WorkContext
from loralab.jobs.refs import SPLIT_PATTERN, resolve_dataset_ref, resolve_model_ref
from loralab.jobs.sampling import SamplingSpec

__all__ = ["KIND", "MAX_LINES", "GenerateSpec"]

MAX_LINES = 1000


class GenerateSpec(StrictModel):
    """Answer a batch of prompts with one model."""

    model: str = Field(
        min_length=1,
        max_length=1024,
        description="What answers: model:<id>, adapter:<id> or a Hugging Face model id.",
    )
    prompts: str | None = Field(
        default=None,
        max_length=200,
        description="A registered dataset of prompts (dataset:<id>): .txt lines, or JSON lines "
        "with prompt (or messages) and an optional expected answer.",
    )
    split: str | None = Field(
        default=None, pattern=SPLIT_PATTERN, description="The dataset's split (hub datasets)."
    )
    lines: list[Annotated[str, Field(min_length=1, max_length=20_000)]] | None = Field(
        default=None,
        max_length=MAX_LINES,
        description=f"The prompts themselves, at most {MAX_LINES}, instead of a dataset.",
    )
    max_samples: int = Field(
        default=MAX_LINES, ge=1, le=MAX_LINES, description="Answer at most this many prompts."
    )
    sampling: SamplingSpec = Field(
        default_factory=SamplingSpec, description="How the model picks tokens."
    )

    @model_validator(mode="after")
    def _one_source(self) -> GenerateSpec:
        if (self.prompts is None) == (self.lines is None):
            raise ValueError("give either prompts (a dataset) or lines, not both or neither")
        return self


def prepare_generate(session: Session, settings: Settings, sub: Submission) -> Prepared:
    """Resolve the model and the prompts dataset."""
    spec = sub.spec
    assert isinstance(spec, GenerateSpec)
    raw = spec.model_dump(mode="json")
    ref, problems = resolve_model_ref(session, spec.model, loc="config.model")
    data, dataset_id = None, None
    if spec.prompts is not None:
        data = DataConfig(source=spec.prompts, split=spec.split or "train").model_dump(mode="json")
        dataset_id, more = resolve_dataset_ref(session, settings, data, loc="config.prompts")
        problems += more
    raw["resolved"] = {
        "base": ref.load if ref else None,
        "adapter_id": ref.adapter_id if ref else None,
        "adapter_path": ref.adapter_path if ref else None,
        "data": data,
    }
    return Prepared(
        config=raw,
        name=sub.name or f"Batch: {spec.model}",
        dataset_id=dataset_id,
        adapter_id=ref.adapter_id if ref else None,
        problems=problems,
    )


def run_generate(ctx: WorkContext) -> Outcome:
    """Answer every prompt; returns ``{count, mean_latency_s, tokens_per_second, exact_match}``."""
    from loralab.evaluation.batch import run_batch
    from loralab.evaluation.rows import read_prompt_rows
    from loralab.inference import Engine, ModelTarget

    config: dict[str, Any] = dict(ctx.job.config)
    resolved = config.pop("resolved")
    spec = GenerateSpec.model_validate(config)
    rows = read_prompt_rows(lines=spec.lines, data=resolved["data"], max_samples=spec.max_samples)
    target = ModelTarget(
        base=resolved["base"],
        adapter_id=resolved["adapter_id"],
        adapter_path=resolved["adapter_path"],
        label=spec.model,
    )
    engine = Engine()
    result = run_batch(
        rows,
        target,
        spec.sampling.to_params(),
        engine=engine,
        out_dir=ctx.job.output_dir,
        reporter=ctx.reporter,
        stop=ctx.stop,
    )
    if result is None:
        return Outcome("stopped")
    return Outcome("completed", {**result, "device": engine.device})


KIND = JobKind(
    name="generate",
    title="Batch test",
    description="Answer a batch of prompts with a model or adapter; download the answers.",
    spec=GenerateSpec,
    run=run_generate,
    device=True,
    outputs="evaluations",
    refers_to=("model", "adapter", "dataset"),
    prepare=prepare_generate,
)
