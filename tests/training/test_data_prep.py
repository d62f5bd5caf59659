"""What the trainer sees: labels only on assistant tokens, and padding-free batches that keep
packed sequences apart (per-token losses equal to padded batches)."""

from __future__ import annotations

import pytest
import torch

from loralab.errors import DataError
from loralab.training.sft_data import tokenize_conversations

CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome, of course."},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def rows(finetome):
    from loralab.config import DataConfig
    from loralab.data import load_conversations

    train_rows, _ = load_conversations(DataConfig(source=str(finetome), max_samples=6), seed=0)
    return train_rows


def test_labels_are_minus_100_outside_assistant_spans(tokenizer):
    data = tokenize_conversations([{"messages": CHAT}], tokenizer, max_length=512)
    ids, labels = data.dataset[0]["input_ids"], data.dataset[0]["labels"]

    trained = [t for t, label in zip(ids, labels, strict=True) if label != -100]
    assert all(label in (-100, t) for t, label in zip(ids, labels, strict=True))
    # Exactly the assistant replies with their end-of-turn token, nothing of the prompt.
    assert tokenizer.decode(trained) == "Paris.<|im_end|>Rome, of course.<|im_end|>"
    first_trained = next(i for i, label in enumerate(labels) if label != -100)
    assert tokenizer.decode(ids[:first_trained]).endswith("<|im_start|>assistant\n")


def test_full_sequence_loss_when_assistant_only_is_off(tokenizer):
    data = tokenize_conversations(
        [{"messages": CHAT}], tokenizer, max_length=512, assistant_only_loss=False
    )

    assert data.dataset[0]["labels"] == data.dataset[0]["input_ids"]


def test_truncation_is_counted_and_rows_without_assistant_tokens_dropped(tokenizer):
    long_prompt = [
        {"role": "user", "content": "word " * 200},
        {"role": "assistant", "content": "ok"},
    ]
    rows = [{"messages": CHAT}, {"messages": long_prompt}]

    data = tokenize_conversations(rows, tokenizer, max_length=64)

    assert len(data.dataset) == 1 and data.dropped == 1 and data.truncated == 1
    assert any("truncated" in note for note in data.notes())
    with pytest.raises(DataError) as err:
        tokenize_conversations([{"messages": long_prompt}], tokenizer, max_length=64)
    assert err.value.problems[0].loc == "train.max_seq_length"


def _per_token_losses(model, batch) -> torch.Tensor:
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        # use_cache=False as the Trainer does: with a cache, packed sequences attend to each
        # other (FIELD-NOTES, transformers 5.23).
        logits = model(**inputs, use_cache=False).logits
    labels = batch["labels"][:, 1:]
    losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), reduction="none"
    )
    return losses[labels.reshape(-1) != -100]


@pytest.mark.parametrize("attn", ["sdpa", "eager", "sdpa_packed"])
def test_padding_free_and_padded_batches_give_the_same_per_token_loss(
    tiny_model, tokenizer, rows, attn
):
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from loralab.models.packed_attention import register_packed_attention

    register_packed_attention()  # sdpa_packed: what padding-free runs on the CPU train with

    data = tokenize_conversations(rows[:4], tokenizer, max_length=1024)
    examples = [data.dataset[i] for i in range(len(data.dataset))]
    assert len({len(e["input_ids"]) for e in examples}) > 1  # real padding in the padded batch
    pad = tokenizer.pad_token_id
    padded = DataCollatorForLanguageModeling(pad_token_id=pad)(examples)
    flat = DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=True)(examples)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attn).eval()

    padded_losses = _per_token_losses(model, padded)
    flat_losses = _per_token_losses(model, flat)

    assert flat["input_ids"].shape[0] == 1 and "attention_mask" not in flat
    assert padded_losses.shape == flat_losses.shape
    torch.testing.assert_close(flat_losses, padded_losses, atol=1e-5, rtol=1e-5)
    # Control: without position_ids the packed sequences do attend to each other.
    leaky = {k: v for k, v in flat.items() if k not in ("position_ids", "cu_seq_lens_q",
             "cu_seq_lens_k", "max_length_q", "max_length_k", "seq_idx")}  # fmt: skip
    assert (_per_token_losses(model, leaky) - padded_losses).abs().max() > 1e-3
