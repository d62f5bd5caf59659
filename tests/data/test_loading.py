"""Loading canonical rows for training, and previews with trained text marked."""

from __future__ import annotations

import json
import shutil

import pytest

from loralab.config import DataConfig
from loralab.data import (
    load_chat_template,
    load_conversations,
    load_light_tokenizer,
    preview_samples,
)
from loralab.errors import DataError, NotFound


def test_rows_are_canonical_and_shuffled_by_seed(formats_dir):
    cfg = DataConfig(source=str(formats_dir / "gsm8k_train.jsonl"))
    train, eval_rows = load_conversations(cfg, seed=1)
    assert len(train) == 240 and eval_rows == []
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in train)
    again, _ = load_conversations(cfg, seed=1)
    other, _ = load_conversations(cfg, seed=2)
    assert train == again
    assert train != other
    assert sorted(json.dumps(r) for r in train) == sorted(json.dumps(r) for r in other)


def test_max_samples_and_eval_fraction(formats_dir):
    cfg = DataConfig(
        source=str(formats_dir / "finetome_sample.parquet"), max_samples=100, eval_fraction=0.1
    )
    loaded = load_conversations(cfg)
    train, eval_rows = loaded
    assert (len(train), len(eval_rows)) == (90, 10)
    assert loaded.skipped == 0
    assert loaded.detection.format == "conversations"


def test_eval_split_as_a_file_beside_the_training_file(formats_dir, tmp_path):
    for name in ("gsm8k_train.jsonl", "gsm8k_test.jsonl"):
        shutil.copy(formats_dir / name, tmp_path / name)
    cfg = DataConfig(source=str(tmp_path / "gsm8k_train.jsonl"), eval_split="gsm8k_test.jsonl")
    train, eval_rows = load_conversations(cfg)
    assert (len(train), len(eval_rows)) == (240, 60)
    missing = cfg.model_copy(update={"eval_split": "nope.jsonl"})
    with pytest.raises(NotFound) as info:
        load_conversations(missing)
    assert info.value.problems[0].loc == "data.eval_split"


def test_eval_split_as_a_split_name_for_a_dataset_folder(formats_dir, tmp_path):
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    shutil.copy(formats_dir / "gsm8k_train.jsonl", folder / "train.jsonl")
    shutil.copy(formats_dir / "gsm8k_test.jsonl", folder / "test.jsonl")
    train, eval_rows = load_conversations(DataConfig(source=str(folder), eval_split="test"))
    assert (len(train), len(eval_rows)) == (240, 60)


def test_preference_rows_load_in_trl_conversational_shape(formats_dir):
    train, _ = load_conversations(
        DataConfig(source=str(formats_dir / "ultrafeedback_sample.parquet"))
    )
    row = train[0]
    assert set(row) == {"prompt", "chosen", "rejected"}
    assert row["prompt"][-1]["role"] == "user"
    assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"


def test_too_few_rows_for_the_eval_share(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text('{"question": "q", "answer": "a"}\n')
    with pytest.raises(DataError) as info:
        load_conversations(DataConfig(source=str(path), eval_fraction=0.5))
    assert info.value.problems[0].loc == "data.eval_fraction"


def test_preview_marks_the_trained_text(formats_dir):
    samples = preview_samples(DataConfig(source=str(formats_dir / "orca_math_sample.jsonl")), n=2)
    assert len(samples) == 2
    sample = samples[0]
    assert sample.line == 1
    assert "".join(s.text for s in sample.segments) == sample.text
    trained = [s.text for s in sample.segments if s.trained]
    assert trained == [sample.row["messages"][-1]["content"] + "<|im_end|>"]
    assert sample.template.startswith("ChatML")
    assert sample.num_tokens is None


def test_preview_with_model_counts_tokens_and_skips_bad_rows(tmp_path, tiny_model):
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"prompt": "", "completion": "x"}\n'
        '{"prompt": "hello there", "completion": "general kenobi"}\n'
    )
    model = {
        "chat_template": load_chat_template(tiny_model),
        "tokenizer": load_light_tokenizer(tiny_model),
    }
    (full,) = preview_samples(DataConfig(source=str(path)), **model)
    assert full.line == 2
    assert full.num_tokens > full.num_trained_tokens > 0
    assert full.truncated is None
    (cut,) = preview_samples(DataConfig(source=str(path)), max_seq_length=5, **model)
    assert cut.truncated is True
    assert cut.num_tokens == full.num_tokens
    assert cut.num_trained_tokens == 0  # the reply starts after token 5: nothing left to learn


def test_preview_of_preference_rows_shows_both_replies(formats_dir):
    (sample,) = preview_samples(
        DataConfig(source=str(formats_dir / "preference_sample.jsonl")), n=1
    )
    chosen = [s.text for s in sample.segments if s.trained]
    rejected = [s.text for s in sample.rejected_segments if s.trained]
    assert chosen == [sample.row["chosen"][0]["content"] + "<|im_end|>"]
    assert rejected == [sample.row["rejected"][0]["content"] + "<|im_end|>"]
