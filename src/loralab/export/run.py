"""The export recipe, top to bottom: adapter, merge, GGUF, quantize, parity, Modelfile, card.

Everything lands in ``out_dir`` (``<data dir>/exports/<job-id>``)::

    adapter/                 the PEFT folder and its run card
    merged/                  merge_and_unload, safetensors, tokenizer and chat template
    gguf/<name>-<quant>.gguf one per quantization
    Modelfile                Ollama, FROM one of the GGUF files
    README.md                the model card
    parity.json              the parity report

A GGUF needs a merged folder and K-quants need an F16 file; when those were not asked for they
are made in ``.work/`` and removed at the end. Progress goes to ``reporter`` as ``phase`` and
``step`` events and log lines.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loralab.diskspace import check_free_space
from loralab.export.formats import QUANTIZATIONS

__all__ = ["PARITY_FILE", "ExportPlan", "plan_steps", "run_export"]

PARITY_FILE = "parity.json"
# Which GGUF the Modelfile uses, best first.
_MODELFILE_PREFERENCE = ("q4_k_m", "q5_k_m", "q8_0", "q6_k", "f16", "bf16")


@dataclass
class ExportPlan:
    """What to export and from what (all resolved by the server)."""

    base: str
    adapter_path: str
    name: str
    formats: list[str]
    base_label: str = ""
    adapter_label: str = ""
    dtype: str = "float16"
    quantizations: list[str] = field(default_factory=lambda: ["f16"])
    gguf_lora: bool = False
    modelfile: bool = True
    parity: bool = True
    parity_prompts: list[str] | None = None
    system_prompt: str | None = None
    run_card: dict[str, Any] | None = None
    needed_bytes: int = 0  # the estimate's peak; checked free before anything is written


def plan_steps(plan: ExportPlan) -> int:
    """How many steps the progress counts: one per file made, plus parity and the card."""
    steps = 1  # the card
    steps += "adapter" in plan.formats
    if "merged" in plan.formats or "gguf" in plan.formats:
        steps += 1
    if "gguf" in plan.formats:
        steps += len(plan.quantizations) + (plan.parity and 1) + (plan.modelfile and 1)
    return steps


class _Progress:
    def __init__(self, reporter, total: int) -> None:
        self.reporter, self.total, self.step, self.started = reporter, total, 0, time.monotonic()
        reporter.emit("started", {"total_steps": total})

    def phase(self, name: str, message: str) -> None:
        self.reporter.emit("phase", {"phase": name, "message": message})
        self.reporter.log(message)

    def done(self) -> None:
        self.step += 1
        self.reporter.emit(
            "step",
            {
                "step": self.step,
                "total_steps": self.total,
                "elapsed_seconds": round(time.monotonic() - self.started, 2),
            },
        )


def _file(out_dir: Path, path: Path, fmt: str, quantization: str | None = None):
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    else:
        size = path.stat().st_size
    item = {"name": path.relative_to(out_dir).as_posix(), "format": fmt, "size_bytes": size}
    if quantization:
        item["quantization"] = quantization
    return item


def _copy_adapter(plan: ExportPlan, target: Path) -> None:
    source = Path(plan.adapter_path)
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.bin"))
    if plan.run_card is not None:
        (target / "run_card.json").write_text(json.dumps(plan.run_card, indent=2), "utf-8")


def _stop_tokens(tokenizer, merged: Path) -> list[str]:
    ids: list[int] = []
    gen = merged / "generation_config.json"
    if gen.is_file():
        eos = json.loads(gen.read_text("utf-8")).get("eos_token_id")
        ids += eos if isinstance(eos, list) else [eos] if eos is not None else []
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    stops = [tokenizer.convert_ids_to_tokens(i) for i in dict.fromkeys(ids)]
    if "<|im_start|>" in tokenizer.get_vocab():
        stops += ["<|im_end|>", "<|im_start|>"]
    return [s for s in dict.fromkeys(stops) if s]


def run_export(plan: ExportPlan, out_dir: Path, reporter, stop) -> dict[str, Any] | None:
    """Make every file the plan asks for; returns the job's result (None when stopped).

    Raises InsufficientStorage before writing when the disk cannot hold ``plan.needed_bytes``.
    """
    from loralab.export.card import render_card
    from loralab.export.gguf_files import convert_to_gguf, quantize_gguf
    from loralab.export.merge import merge_adapter, render_chat
    from loralab.export.modelfile import ModelfileParts, derive_template, render_modelfile

    out_dir.mkdir(parents=True, exist_ok=True)
    # The server checked at submit time; the disk may have filled up while the job waited.
    check_free_space(out_dir, plan.needed_bytes, what=f"export {plan.name}")
    work = out_dir / ".work"
    progress = _Progress(reporter, plan_steps(plan))
    files: list[dict[str, Any]] = []
    parity, suspect, note = None, False, None

    if "adapter" in plan.formats:
        progress.phase("adapter", "Copying the adapter and its run card")
        _copy_adapter(plan, out_dir / "adapter")
        files.append(_file(out_dir, out_dir / "adapter", "adapter"))
        progress.done()
    if stop.is_set():
        return None

    merged = None
    if "merged" in plan.formats or "gguf" in plan.formats:
        keep = "merged" in plan.formats
        merged = out_dir / "merged" if keep else work / "merged"
        progress.phase("merge", f"Merging the adapter into {plan.base_label} ({plan.dtype})")
        merge_adapter(plan.base, plan.adapter_path, merged, dtype=plan.dtype)
        if keep:
            files.append(_file(out_dir, merged, "merged"))
        progress.done()
    if stop.is_set():
        return None

    ggufs: dict[str, Path] = {}
    if "gguf" in plan.formats and merged is not None:
        folder = out_dir / "gguf"
        wanted = list(plan.quantizations)
        direct = [q for q in wanted if QUANTIZATIONS[q].tool == "converter"]
        needs_f16 = any(QUANTIZATIONS[q].tool == "llama_cpp" for q in wanted)
        for q in direct + (["f16"] if needs_f16 and "f16" not in direct else []):
            target = folder / f"{plan.name}-{q}.gguf" if q in wanted else work / "f16.gguf"
            progress.phase("gguf", f"Converting to GGUF {q.upper()} with llama.cpp's converter")
            convert_to_gguf(merged, target, q, model_name=plan.name, log=reporter.log)
            ggufs[q if q in wanted else "_f16"] = target
            if q in wanted:
                progress.done()
            if stop.is_set():
                return None
        f16 = ggufs.get("f16") or ggufs.get("_f16")
        for q in wanted:
            if QUANTIZATIONS[q].tool != "llama_cpp":
                continue
            progress.phase("quantize", f"Quantizing to {q.upper()} with llama.cpp")
            assert f16 is not None
            ggufs[q] = quantize_gguf(f16, folder / f"{plan.name}-{q}.gguf", q)
            progress.done()
            if stop.is_set():
                return None
        for q in wanted:
            files.append(_file(out_dir, ggufs[q], "gguf", q))

        if plan.parity:
            progress.phase("parity", "Checking parity: merged HF model against each GGUF")
            parity, suspect = _parity(plan, merged, {q: ggufs[q] for q in wanted}, reporter)
            (out_dir / PARITY_FILE).write_text(json.dumps(parity, indent=2), "utf-8")
            files.append(_file(out_dir, out_dir / PARITY_FILE, "parity"))
            progress.done()

        if plan.modelfile:
            progress.phase("modelfile", "Writing the Ollama Modelfile")
            tokenizer = _tokenizer(merged)
            template, note = derive_template(
                lambda messages, gen: render_chat(tokenizer, messages, gen)
            )
            pick = next((q for q in _MODELFILE_PREFERENCE if q in ggufs), wanted[0])
            text = render_modelfile(
                ModelfileParts(
                    gguf_name=ggufs[pick].name,
                    template=template,
                    stops=_stop_tokens(tokenizer, merged),
                    system=plan.system_prompt,
                    note=note,
                )
            )
            (out_dir / "Modelfile").write_text(text, "utf-8")
            files.append(_file(out_dir, out_dir / "Modelfile", "modelfile"))
            reporter.log(f"Modelfile: FROM {ggufs[pick].name}; template: {note}")
            progress.done()

    progress.phase("card", "Writing the model card")
    card_files = files + [{"name": "README.md", "format": "card", "size_bytes": 0}]
    card = render_card(
        name=plan.name,
        base_label=plan.base_label or plan.base,
        adapter_label=plan.adapter_label,
        run_card=plan.run_card,
        files=card_files,
        parity=parity,
        modelfile_note=note,
    )
    (out_dir / "README.md").write_text(card, "utf-8")
    files.append(_file(out_dir, out_dir / "README.md", "card"))
    shutil.rmtree(work, ignore_errors=True)
    progress.done()
    reporter.emit("finished", {"step": progress.total, "metrics": {}})
    return {"files": files, "parity": parity, "suspect": suspect}


def _tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def _parity(plan: ExportPlan, merged: Path, ggufs: dict[str, Path], reporter):
    from loralab.export.merge import load_merged
    from loralab.export.parity import DEFAULT_PROMPTS, check_gguf, judge, reference_continuations

    model, tokenizer = load_merged(merged)
    prompts = list(plan.parity_prompts or DEFAULT_PROMPTS)
    references = reference_continuations(model, tokenizer, prompts, plan.system_prompt)
    del model
    reports = []
    for q, path in ggufs.items():
        report = judge(q, check_gguf(path, references))
        reports.append(report)
        div = report["first_divergence"]
        where = (
            f"first divergence at token {div['position']} of '{div['prompt'][:40]}' "
            f"(HF margin {div['hf_margin']:.4f}{', a near-tie' if div['near_tie'] else ''})"
            if div
            else "no divergence"
        )
        reporter.log(
            f"Parity {q}: tokenization {'equal' if report['tokenization_equal'] else 'DIFFERS'}, "
            f"agreement {report['agreement']:.0%} of {report['tokens']} tokens, "
            f"max logit diff {report['max_logit_diff']:.4f}, {where}"
        )
    reference = next((r for r in reports if r["quantization"] == "f16"), None)
    suspect = bool(reference is not None and reference["passed"] is False)
    if suspect:
        reporter.log(
            "The F16 file disagrees with the merged model: export marked suspect", "warning"
        )
    parity = {
        "prompts": prompts,
        "max_new_tokens": len(references[0].continuation) if references else 0,
        "reference": "merged HF model, float32, greedy; llama.cpp teacher-forced on its tokens",
        "quantizations": reports,
        "suspect": suspect,
    }
    return parity, suspect
