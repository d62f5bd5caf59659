"""``loralab bench`` / ``make bench``: each workload side by side, whole processes, as ratios.

A workload is a module of this package with ``run(options) -> WorkloadResult``. The registry
below is the order ``loralab bench`` runs them in; ``report.py`` turns the results into the
Markdown that ``--record`` writes into ``docs/benchmarks.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WORKLOADS", "Workload"]


@dataclass(frozen=True)
class Workload:
    name: str
    module: str  # loralab.bench.<module>, with run(options) -> WorkloadResult
    summary: str


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            "sft-tiny",
            "sft_workload",
            "SFT on a tiny model, 2,000+ FineTome rows: loralab vs plain TRL (vs LLaMA-Factory)",
        ),
        Workload(
            "sft-smollm2",
            "sft_workload",
            "SFT on SmolLM2-135M (real size): tokens/s and peak RSS vs plain TRL",
        ),
        Workload("server", "server_workload", "SFT as a server job vs the CLI: tokens/s"),
        Workload("startup", "server_workload", "Start pressed to the first optimizer step"),
        Workload("data", "data_workload", "Validate + tokenize 100k FineTome rows vs pandas"),
        Workload("events", "events_workload", "Step logged to 50 WebSocket clients: p95"),
        Workload("estimator", "estimator_workload", "Memory estimate vs measured peak"),
        Workload("inference", "inference_workload", "Inference worker vs plain generate"),
    ]
}
