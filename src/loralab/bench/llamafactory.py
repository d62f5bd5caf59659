"""LLaMA-Factory's CLI as a peer in the SFT workloads, where its own venv exists.

LLaMA-Factory pins other versions of transformers, TRL and PEFT than loralab, so it lives in a
venv of its own (``LORALAB_BENCH_LLAMAFACTORY``, default ``~/.cache/loralab-bench/llamafactory``).
``make bench-llamafactory`` builds it as FIELD-NOTES.md says: torch pinned to the local CPU
build through a constraints file (unpinned it pulls CUDA wheels), torchvision and torchaudio
removed, an empty ``torchaudio`` module on ``PYTHONPATH`` (its multimodal plugin imports it
always), ``HF_HUB_OFFLINE=1`` and ``DISABLE_VERSION_CHECK=1``. Without the venv the rows are
left out and the report says so.

Two configurations: its defaults (padded batches) and ``neat_packing`` (packed without
cross-attention, its fast path).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from loralab.bench.runner import Proc

__all__ = ["adapter_dir", "notes", "plan", "train_seconds", "venv"]

LABEL = "LLaMA-Factory CLI (its defaults)"
LABEL_NEAT = "LLaMA-Factory CLI, neat_packing"
DATASET = "loralab_bench_finetome"


def venv() -> Path | None:
    root = Path(
        os.environ.get("LORALAB_BENCH_LLAMAFACTORY")
        or Path.home() / ".cache" / "loralab-bench" / "llamafactory"
    ).expanduser()
    return root if (root / "bin" / "llamafactory-cli").exists() else None


def notes() -> list[str]:
    if venv() is None:
        return [
            "LLaMA-Factory rows left out: no venv at $LORALAB_BENCH_LLAMAFACTORY or "
            "~/.cache/loralab-bench/llamafactory (`make bench-llamafactory` builds it)."
        ]
    return [
        "LLaMA-Factory in its own venv (its own transformers/TRL/PEFT), `template: chatml`, "
        "ShareGPT columns mapped to the FineTome fields."
    ]


def plan(
    model: Path, data: Path, work: Path, batch_size: int, max_length: int, lr: float
) -> list[Proc]:
    root = venv()
    if root is None:
        return []
    data_dir = work / "llamafactory-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    import pyarrow.parquet as pq

    rows = [{"conversations": r["conversations"]} for r in pq.read_table(data).to_pylist()]
    (data_dir / "train.json").write_text(json.dumps(rows))
    (data_dir / "dataset_info.json").write_text(
        json.dumps(
            {
                DATASET: {
                    "file_name": "train.json",
                    "formatting": "sharegpt",
                    "columns": {"messages": "conversations"},
                    "tags": {
                        "role_tag": "from",
                        "content_tag": "value",
                        "user_tag": "human",
                        "assistant_tag": "gpt",
                        "system_tag": "system",
                    },
                }
            }
        )
    )
    stub = work / "llamafactory-stub"
    (stub / "torchaudio").mkdir(parents=True, exist_ok=True)
    (stub / "torchaudio" / "__init__.py").write_text("")
    env = {
        "HF_HUB_OFFLINE": "1",
        "DISABLE_VERSION_CHECK": "1",
        "PYTHONPATH": str(stub),
        "WANDB_DISABLED": "true",
    }
    procs = []
    for label, neat in ((LABEL, False), (LABEL_NEAT, True)):
        name = "neat" if neat else "default"
        config = {
            "model_name_or_path": str(model),
            "stage": "sft",
            "do_train": True,
            "finetuning_type": "lora",
            "lora_rank": 16,
            "lora_alpha": 32,
            "lora_dropout": 0.0,
            "lora_target": "all",
            "dataset": DATASET,
            "dataset_dir": str(data_dir),
            "template": "chatml",
            "cutoff_len": max_length,
            "overwrite_cache": True,
            "overwrite_output_dir": True,
            "logging_steps": 1,
            "save_strategy": "no",
            "per_device_train_batch_size": batch_size,
            "gradient_accumulation_steps": 1,
            "learning_rate": lr,
            "num_train_epochs": 1.0,
            "lr_scheduler_type": "cosine",
            "warmup_ratio": 0.03,
            "bf16": False,
            "report_to": "none",
            "seed": 42,
        }
        if neat:
            config.update({"packing": True, "neat_packing": True})
        path = work / f"llamafactory-{name}.yaml"  # its JSON reader is broken; JSON is YAML
        path.write_text(json.dumps(config, indent=2))
        procs.append(
            Proc(
                label,
                [
                    str(root / "bin" / "llamafactory-cli"),
                    "train",
                    str(path),
                    # its CLI lays key=value over the file: a folder per round
                    f"output_dir={work / f'llamafactory-{name}-{{round}}'}",
                ],
                env=env,
            )
        )
    return procs


def _out_dir(proc: Proc, round: int) -> Path:
    return Path(proc.argv_for(round)[-1].removeprefix("output_dir="))


def adapter_dir(proc: Proc, round: int) -> Path:
    return _out_dir(proc, round)


def train_seconds(proc: Proc, round: int) -> float | None:
    results = _out_dir(proc, round) / "train_results.json"
    if not results.exists():
        return None
    return json.loads(results.read_text()).get("train_runtime")
