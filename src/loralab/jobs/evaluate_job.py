"""The ``evaluate`` kind: base against tuned on held-out rows, with metrics and a judge.

At submit time the references are resolved: ``adapter:<id>`` becomes the adapter's files and
its base model (or ``base``, when given), the checkpoints asked for must be complete ones of
the adapter's run, and the rows are ``dataset:<id>`` or, by default, the rows the run held out
(``<run dir>/data/heldout.jsonl``). The job belongs to the adapter's training run
(``parent_id``). The worker loads an ``Engine`` and follows ``loralab.evaluation.run``; the
samples land in ``<data dir>/evaluations/<job-id>/samples.jsonl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, HttpUrl
from sqlalchemy.orm import Session

from loralab.config import DataConfig, Settings, StrictModel
from loralab.errors import FieldProblem, NotFound
from loralab.jobs.kinds import JobKind, Outcome, Prepared, Submission, WorkContext
from loralab.jobs.refs import SPLIT_PATTERN, resolve_dataset_ref, resolve_model_ref
from loralab.jobs.run_files import list_checkpoints
from loralab.jobs.sampling import SamplingSpec
from loralab.jobs.secrets import forget_secret, keep_secret, read_secret
from loralab.store.tables import AdapterRow, JobRow, ModelRow

__all__ = ["KIND", "EvaluateSpec", "JudgeSpec", "heldout_path"]

JUDGE_KEY_FILE = "judge_key"


class JudgeSpec(StrictModel):
    """An LLM judge behind an OpenAI-compatible endpoint."""

    base_url: HttpUrl = Field(
        description="The endpoint's base URL, e.g. https://api.openai.com/v1.",
        examples=["https://api.openai.com/v1"],
    )
    model: str = Field(min_length=1, max_length=200, description="The judge model's name.")
    api_key: str | None = Field(
        default=None,
        max_length=500,
        description="The endpoint's key. Kept in a private file beside the job's outputs, "
        "never in the job's config, and removed when the job ends.",
    )


class EvaluateSpec(StrictModel):
    """Compare an adapter with its base model on held-out rows."""

    adapter: str = Field(
        pattern=r"^adapter:[A-Za-z0-9_-]{1,64}$",
        description="The adapter to evaluate: adapter:<id>.",
    )
    base: str | None = Field(
        default=None,
        max_length=1024,
        description="The base to compare with (model:<id> or a hub id); the adapter's own "
        "base model when empty.",
    )
    dataset: str | None = Field(
        default=None,
        max_length=200,
        description="The rows to evaluate on: dataset:<id> or a hub dataset id. Empty for the "
        "rows the adapter's training run held out (data.eval_fraction).",
    )
    split: str | None = Field(
        default=None, pattern=SPLIT_PATTERN, description="The dataset's split (hub datasets)."
    )
    max_samples: int = Field(
        default=50, ge=1, le=1000, description="Evaluate at most this many rows."
    )
    sampling: SamplingSpec = Field(
        default_factory=SamplingSpec, description="How both models pick tokens."
    )
    checkpoints: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(
        default_factory=list,
        max_length=10,
        description="Steps of the adapter's training run whose checkpoints to score too.",
    )
    judge: JudgeSpec | None = Field(
        default=None, description="An LLM judge to compare the answers; none when empty."
    )
    price_per_gpu_hour: float = Field(
        default=2.0, ge=0, le=1000, description="What an hour of the device costs (for cost)."
    )


def heldout_path(run_dir: str | Path) -> Path:
    """Where a training run keeps the rows it held out."""
    return Path(run_dir) / "data" / "heldout.jsonl"


def _checkpoints(
    run: JobRow | None, steps: list[int]
) -> tuple[list[dict[str, Any]], list[FieldProblem]]:
    if not steps:
        return [], []
    if run is None or not run.output_dir:
        return [], [
            FieldProblem(
                loc="config.checkpoints",
                message="the adapter has no training run here, so it has no checkpoints",
            )
        ]
    found = {c.step: c for c in list_checkpoints(run.output_dir) if c.complete}
    have = ", ".join(str(s) for s in sorted(found)) or "none"
    chosen, problems = [], []
    for i, step in enumerate(steps):
        if step not in found:
            problems.append(
                FieldProblem(
                    loc=f"config.checkpoints.{i}",
                    message=f"the run has no complete checkpoint at step {step} (it has: {have})",
                )
            )
            continue
        path = Path(run.output_dir) / "checkpoints" / found[step].path_name
        chosen.append({"step": step, "path": str(path)})
    return chosen, problems


def _data(
    session: Session, settings: Settings, spec: EvaluateSpec, run: JobRow | None
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """Where the rows come from: ``{dataset_id, data}`` or ``{heldout}``."""
    if spec.dataset is not None:
        data = DataConfig(source=spec.dataset, split=spec.split or "train").model_dump(mode="json")
        dataset_id, problems = resolve_dataset_ref(session, settings, data, loc="config.dataset")
        return {"dataset_id": dataset_id, "data": data, "heldout": None}, problems
    path = heldout_path(run.output_dir) if run is not None and run.output_dir else None
    if path is None or not path.is_file():
        return {}, [
            FieldProblem(
                loc="config.dataset",
                message="the adapter's training run held out no rows",
                fix="Choose a dataset, or train with data.eval_fraction above 0.",
            )
        ]
    return {"dataset_id": None, "data": None, "heldout": str(path)}, []


def prepare_evaluate(session: Session, settings: Settings, sub: Submission) -> Prepared:
    """Resolve the adapter, the base, the checkpoints and the rows."""
    spec = sub.spec
    assert isinstance(spec, EvaluateSpec)
    raw = spec.model_dump(mode="json")
    ref, problems = resolve_model_ref(session, spec.adapter, loc="config.adapter")
    if ref is None:
        return Prepared(config=raw, problems=problems)
    adapter = session.get(AdapterRow, ref.adapter_id)
    assert adapter is not None
    if not Path(adapter.path).is_dir():
        problems.append(
            FieldProblem(loc="config.adapter", message=f"the files of '{adapter.name}' are gone")
        )
    base_load, base_label = (
        adapter.base_model,
        _label(session, adapter.base_ref or adapter.base_model),
    )
    if spec.base is not None:
        base, more = resolve_model_ref(session, spec.base, loc="config.base")
        problems += more
        if base is not None and base.adapter_id:
            problems.append(
                FieldProblem(loc="config.base", message="must be a model, not an adapter")
            )
        elif base is not None:
            base_load, base_label = base.load, _label(session, spec.base)
    run = session.get(JobRow, adapter.job_id) if adapter.job_id else None
    checkpoints, more = _checkpoints(run, spec.checkpoints)
    problems += more
    rows, more = _data(session, settings, spec, run)
    problems += more
    key_file = None
    if spec.judge is not None and spec.judge.api_key and not problems:
        key_file = keep_secret(sub.output_dir, JUDGE_KEY_FILE, spec.judge.api_key)
        raw["judge"]["api_key"] = None
    raw["resolved"] = {
        "base": base_load,
        "base_label": base_label,
        "adapter_id": adapter.id,
        "adapter_path": adapter.path,
        "adapter_label": adapter.name,
        "checkpoints": checkpoints,
        "data": rows.get("data"),
        "heldout": rows.get("heldout"),
        "judge_key_file": key_file,
    }
    return Prepared(
        config=raw,
        name=sub.name or f"Evaluate {adapter.name}",
        dataset_id=rows.get("dataset_id"),
        adapter_id=adapter.id,
        parent_id=adapter.job_id,
        problems=problems,
    )


def _label(session: Session, ref: str) -> str:
    """What people call a base: a registered model's name, a folder's name, or the hub id."""
    if ref.startswith("model:"):
        row = session.get(ModelRow, ref.removeprefix("model:"))
        if row is not None:
            return row.name
    return Path(ref).name if Path(ref).is_absolute() else ref


def _rows(spec: EvaluateSpec, resolved: dict[str, Any]):
    from loralab.evaluation.rows import read_conversation_rows, read_heldout

    if resolved.get("heldout"):
        path = Path(resolved["heldout"])
        if not path.is_file():
            raise NotFound(f"The held-out rows are gone from {path}.", code="heldout_not_found")
        return read_heldout(path, max_samples=spec.max_samples)
    return read_conversation_rows(resolved["data"], max_samples=spec.max_samples)


def run_evaluate(ctx: WorkContext) -> Outcome:
    """Answer every row with base and tuned, score, judge; returns the summary."""
    from loralab.errors import DataError
    from loralab.evaluation.judge import JudgeEndpoint
    from loralab.evaluation.run import EvaluationPlan, run_evaluation
    from loralab.inference import Engine, ModelTarget

    config = dict(ctx.job.config)
    resolved = config.pop("resolved")
    spec = EvaluateSpec.model_validate(config)
    key_file = resolved.get("judge_key_file")
    try:
        rows = _rows(spec, resolved)
        if not rows:
            raise DataError(
                "No row to evaluate: none has a user message followed by an assistant answer.",
                fix="Evaluate on conversations whose last assistant message is the reference.",
            )
        base = ModelTarget(base=resolved["base"], label=resolved["base_label"])
        tuned = ModelTarget(
            base=resolved["base"],
            adapter_id=resolved["adapter_id"],
            adapter_path=resolved["adapter_path"],
            label=resolved["adapter_label"],
        )
        checkpoints = []
        for item in resolved["checkpoints"]:
            if not Path(item["path"]).is_dir():
                raise NotFound(
                    f"Checkpoint {item['step']} is gone from {item['path']}.",
                    code="checkpoint_not_found",
                )
            target = ModelTarget(
                base=resolved["base"],
                adapter_id=f"{resolved['adapter_id']}-step-{item['step']}",
                adapter_path=item["path"],
                label=f"step {item['step']}",
            )
            checkpoints.append((item["step"], target))
        judge = None
        if spec.judge is not None:
            key = read_secret(key_file) or spec.judge.api_key
            judge = JudgeEndpoint(str(spec.judge.base_url), spec.judge.model, key)
        plan = EvaluationPlan(
            base=base,
            tuned=tuned,
            params=spec.sampling.to_params(),
            checkpoints=checkpoints,
            judge=judge,
            price_per_gpu_hour=spec.price_per_gpu_hour,
        )
        engine = Engine()
        result = run_evaluation(
            rows,
            plan,
            engine=engine,
            out_dir=ctx.job.output_dir,
            reporter=ctx.reporter,
            stop=ctx.stop,
        )
    finally:
        forget_secret(key_file)
    if result is None:
        return Outcome("stopped")
    result["device"] = engine.device
    result["base_label"], result["tuned_label"] = resolved["base_label"], resolved["adapter_label"]
    return Outcome("completed", result)


KIND = JobKind(
    name="evaluate",
    title="Evaluation",
    description="Compare an adapter with its base model on held-out rows: metrics, a judge, "
    "and pairs to vote on.",
    spec=EvaluateSpec,
    run=run_evaluate,
    device=True,
    outputs="evaluations",
    refers_to=("adapter", "dataset", "parent"),
    prepare=prepare_evaluate,
)
