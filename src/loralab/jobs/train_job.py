"""The ``train`` kind: a fine-tuning run from a RunConfig; its adapter becomes a resource.

At submit time the RunConfig's references are resolved (``refs``): ``dataset:<id>`` becomes the
stored file, ``model:<id>`` the registered folder, ``adapter:<id>`` its base model plus the
adapter to continue, and ``output.dir`` the job's own ``<data dir>/runs/<job-id>``. The worker
trains (resuming from the last complete checkpoint on a later attempt) and registers the adapter.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from loralab.config import RunConfig, Settings
from loralab.jobs.kinds import JobKind, Outcome, Prepared, Submission, WorkContext
from loralab.jobs.refs import resolve_dataset_ref, resolve_model_ref, split_problem

__all__ = ["KIND"]


def prepare_train(session: Session, settings: Settings, sub: Submission) -> Prepared:
    """Resolve the run's dataset and model references and give it its own output folder."""
    config = sub.spec
    assert isinstance(config, RunConfig)
    raw = config.model_dump(mode="json")
    dataset_id, problems = resolve_dataset_ref(
        session, settings, raw["data"], loc="config.data.source"
    )
    ref, more = resolve_model_ref(
        session, raw["model"]["name_or_path"], loc="config.model.name_or_path"
    )
    problems += more
    if (
        split := split_problem(raw["data"].get("eval_split"), "config.data.eval_split")
    ) is not None:
        problems.append(split)
    rewards = getattr(config.train, "rewards", None)
    if rewards:
        from loralab.rewards import check_reward_specs

        problems += check_reward_specs(
            rewards, "config.train.rewards", allow_custom=settings.allow_custom_rewards
        )
    if ref is not None:
        raw["model"]["name_or_path"] = ref.load
        if ref.adapter_path:
            raw["model"]["adapter"] = ref.adapter_path
    raw["output"]["dir"] = str(sub.output_dir)
    if sub.name:
        raw["name"] = raw.get("name") or sub.name
    return Prepared(
        config=raw,
        name=sub.name or config.name,
        dataset_id=dataset_id,
        adapter_id=ref.adapter_id if ref is not None else None,
        problems=problems,
    )


class _MilestoneLog:
    """Adds a line to the job's log for each milestone (start, eval, checkpoint, end), so the
    log of a clean run says what happened, as ``loralab train`` prints it."""

    def __init__(self, reporter, describe) -> None:
        self.reporter = reporter
        self.describe = describe  # training.describe_event, imported where training runs

    def report(self, event) -> None:
        line = self.describe(event)
        if line is not None:
            self.reporter.log(line)


def run_train(ctx: WorkContext) -> Outcome:
    """Train; on completion register the adapter and return ``{"adapter_id": ...}``."""
    from loralab.jobs.adapter_files import register_run_adapter
    from loralab.jobs.run_files import read_run_card
    from loralab.store.jobs import lock_job
    from loralab.training import MultiReporter, describe_event, train

    config = RunConfig.model_validate(ctx.job.config)
    both = MultiReporter(ctx.reporter, _MilestoneLog(ctx.reporter, describe_event))
    result = train(config, both, resume=ctx.resume, stop=ctx.stop)
    if result.status != "completed":
        return Outcome(result.status)
    with ctx.reporter.db.write() as session:
        job = lock_job(session, ctx.job.id)
        adapter = register_run_adapter(session, job, read_run_card(result.output_dir))
        adapter_id = adapter.id if adapter is not None else None
    if adapter_id:
        ctx.reporter.log(f"Adapter registered as adapter:{adapter_id}")
    return Outcome("completed", {"adapter_id": adapter_id})


KIND = JobKind(
    name="train",
    title="Training run",
    description="Fine-tune a model with LoRA; the adapter it makes appears on the Adapters page.",
    spec=RunConfig,
    run=run_train,
    device=True,
    outputs="runs",
    resumable=True,
    refers_to=("dataset", "model", "adapter"),
    prepare=prepare_train,
)
