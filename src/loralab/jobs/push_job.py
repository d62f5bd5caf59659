"""The ``push`` kind: send a finished export to the Hugging Face Hub.

It refers to its export (``parent_id``). The token comes with the request, is written to a
file only the owner can read in the job's folder (never to the job's row, its events, its log
or an API answer) and is removed when the job ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from sqlalchemy.orm import Session

from loralab.config import Settings, StrictModel
from loralab.errors import FieldProblem
from loralab.jobs.kinds import JobKind, Outcome, Prepared, Submission, WorkContext
from loralab.jobs.refs import HUB_ID_PATTERN
from loralab.jobs.secrets import forget_secret, keep_secret, read_secret
from loralab.store.tables import JobRow

__all__ = ["KIND", "PushSpec"]

TOKEN_FILE = "hub_token"


class PushSpec(StrictModel):
    """Push an export's files to a Hugging Face Hub repository."""

    export: str = Field(
        pattern=r"^[0-9a-f]{32}$", description="The export job whose files to push."
    )
    what: Literal["adapter", "merged", "gguf"] = Field(
        default="gguf",
        description="adapter: the PEFT folder; merged: the merged model; gguf: the GGUF files "
        "with the Modelfile and model card.",
    )
    repo_id: str = Field(
        pattern=HUB_ID_PATTERN, description="The repository, e.g. your-name/my-model."
    )
    private: bool = Field(default=True, description="Create the repository as private.")
    token: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="A Hugging Face token with write access; kept out of logs and answers.",
    )


def prepare_push(session: Session, settings: Settings, sub: Submission) -> Prepared:
    """Check the export is there and finished, and keep the token out of the job's row."""
    from loralab.export.hub import upload_paths

    spec = sub.spec
    assert isinstance(spec, PushSpec)
    raw = spec.model_dump(mode="json")
    problems: list[FieldProblem] = []
    export = session.get(JobRow, spec.export)
    if export is None or export.kind != "export":
        problems.append(FieldProblem(loc="config.export", message="no such export"))
    elif export.status != "completed":
        problems.append(FieldProblem(loc="config.export", message=f"it is {export.status}"))
    elif not upload_paths(Path(export.output_dir or ""), spec.what):
        problems.append(
            FieldProblem(loc="config.what", message=f"the export has no {spec.what} files")
        )
    if not spec.token:
        problems.append(
            FieldProblem(
                loc="config.token",
                message="a token is needed",
                fix="Create one with write access at huggingface.co/settings/tokens.",
            )
        )
    raw["token"] = None
    if not problems:
        raw["token_file"] = keep_secret(sub.output_dir, TOKEN_FILE, spec.token or "")
        raw["export_dir"] = export.output_dir
    return Prepared(
        config=raw,
        name=sub.name or f"push to {spec.repo_id}",
        parent_id=spec.export if export is not None else None,
        problems=problems,
    )


def run_push(ctx: WorkContext) -> Outcome:
    """Upload the export's files; returns ``{repo_id, url, files}``."""
    from loralab.export.hub import push_folder

    config = dict(ctx.job.config)
    token_file = config.pop("token_file", None)
    export_dir = Path(config.pop("export_dir"))
    spec = PushSpec.model_validate(config)
    try:
        ctx.reporter.emit("phase", {"name": "pushing", "message": f"Pushing to {spec.repo_id}"})
        result = push_folder(
            export_dir,
            spec.what,
            spec.repo_id,
            token=read_secret(token_file) or "",
            private=spec.private,
        )
    finally:
        forget_secret(token_file)
    ctx.reporter.log(f"Pushed {len(result['files'])} files to {result['url']}")
    return Outcome("completed", result)


KIND = JobKind(
    name="push",
    title="Hub push",
    description="Send an export's files to a Hugging Face Hub repository.",
    spec=PushSpec,
    run=run_push,
    device=False,
    outputs="jobs",
    refers_to=("parent",),
    prepare=prepare_push,
)
