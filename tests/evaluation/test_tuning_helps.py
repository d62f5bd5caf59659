"""Fine-tuning helps, measured: SmolLM2-135M tuned briefly with loralab's own training on a
rewrite task with a fixed answer format, then evaluated on the rows the run held out. The tuned
adapter beats the base model on exact match and ROUGE-L (the direction, not the numbers).

The first run trains (about three minutes on two cores); the adapter and its held-out rows are
cached in the test cache, keyed by a hash of the training config, the data and the model.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from loralab.config import parse_run_config
from loralab.evaluation import read_heldout
from loralab.evaluation.run import EvaluationPlan, run_evaluation

pytestmark = pytest.mark.slow

WORDS = [
    "red",
    "blue",
    "green",
    "cat",
    "dog",
    "fish",
    "sun",
    "moon",
    "star",
    "tree",
    "rock",
    "sand",
    "wind",
    "rain",
    "snow",
    "fire",
    "milk",
    "bread",
    "salt",
    "lamp",
    "door",
    "road",
    "ship",
    "bird",
    "frog",
]


def rewrite_rows(n: int = 400, seed: int = 0) -> list[dict]:
    """'Reverse the words: a b c' -> 'Answer: c b a', three to five words each."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = rng.sample(WORDS, rng.randint(3, 5))
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Reverse the words: {' '.join(words)}"},
                    {"role": "assistant", "content": f"Answer: {' '.join(reversed(words))}"},
                ]
            }
        )
    return rows


def run_config(model: Path, data: Path, out: Path):
    return parse_run_config(
        {
            "model": {"name_or_path": str(model)},
            "data": {"source": str(data), "eval_fraction": 0.1},
            "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
            "train": {
                "max_steps": 50,
                "batch_size": 8,
                "gradient_accumulation_steps": 1,
                "learning_rate": 1e-3,
                "max_seq_length": 128,
                "warmup_ratio": 0.0,
                "gradient_checkpointing": False,
                "logging_steps": 10,
                "save_steps": 1000,
                "seed": 0,
            },
            "output": {"dir": str(out)},
        }
    )


@pytest.fixture(scope="module")
def tuned_run(smollm2: Path, test_cache: Path) -> Path:
    """The run folder (adapter + held-out rows), trained once and cached."""
    from loralab.training import ListReporter, train

    lines = "".join(json.dumps(r) + "\n" for r in rewrite_rows())
    probe = run_config(smollm2, Path("data.jsonl"), Path("out")).model_dump(mode="json")
    probe.pop("output")
    model_id = (smollm2 / "config.json").read_text()
    key = hashlib.sha256(json.dumps([probe, lines, model_id], sort_keys=True).encode()).hexdigest()
    done = test_cache / f"tuned-rewrite-{key[:16]}"
    with FileLock(str(test_cache / "tuned-rewrite.lock")):
        if (done / "adapter" / "adapter_config.json").is_file() and (
            done / "data" / "heldout.jsonl"
        ).is_file():
            return done
        scratch = done.with_name(done.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        data = scratch / "rewrite.jsonl"
        data.write_text(lines, encoding="utf-8")
        result = train(run_config(smollm2, data, scratch / "run"), ListReporter())
        assert result.status == "completed"
        scratch.joinpath("run").rename(done)
        shutil.rmtree(scratch, ignore_errors=True)
        return done


class Collect:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def emit(self, kind: str, data: dict) -> None:
        self.events.append((kind, data))

    def log(self, message: str, level: str = "info") -> None:
        self.events.append(("log", {"message": message, "level": level}))


def test_tuned_beats_base_on_held_out_rows(tuned_run: Path, smollm2: Path, tmp_path: Path):
    from loralab.inference import Engine, ModelTarget, SamplingParams

    rows = read_heldout(tuned_run / "data" / "heldout.jsonl", max_samples=24)
    assert len(rows) == 24 and rows[0].reference.startswith("Answer: ")
    plan = EvaluationPlan(
        base=ModelTarget(base=str(smollm2), label="SmolLM2-135M"),
        tuned=ModelTarget(
            base=str(smollm2),
            adapter_id="rewrite",
            adapter_path=str(tuned_run / "adapter"),
            label="tuned",
        ),
        params=SamplingParams(max_tokens=16),
    )
    reporter = Collect()
    result = run_evaluation(rows, plan, engine=Engine(), out_dir=tmp_path, reporter=reporter)

    assert result is not None
    base, tuned = result["metrics"]["base"], result["metrics"]["tuned"]
    print(json.dumps({"base": base, "tuned": tuned, "deltas": result["deltas"]}, indent=1))
    assert tuned["exact_match"]["mean"] > base["exact_match"]["mean"]
    assert tuned["rouge_l"]["mean"] > base["rouge_l"]["mean"]
    assert result["deltas"]["exact_match"]["mean"] > 0
    assert [d["step"] for k, d in reporter.events if k == "step"] == list(range(1, 25))
    assert len((tmp_path / "samples.jsonl").read_text().splitlines()) == 24
