"""The chunked cross-entropy gives the loss and gradients of the full-logits loss: on raw
tensors (hidden, LM head weight and bias), and on the tiny model with LoRA for padded and
padding-free batches with assistant-only labels."""

from __future__ import annotations

import json

import pytest
import torch

from loralab.training.chunked_loss import chunked_cross_entropy, chunked_loss_unsupported
from loralab.training.sft_data import tokenize_conversations


def _full_loss_sum(hidden, weight, bias, labels):
    logits = torch.nn.functional.linear(hidden[:, :-1], weight, bias)
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), reduction="sum"
    )


def test_loss_statistics_and_gradients_match_full_logits_on_raw_tensors():
    torch.manual_seed(0)
    batch, seq, width, vocab = 3, 11, 16, 97
    hidden = torch.randn(batch, seq, width, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(vocab, width, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(vocab, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, vocab, (batch, seq))
    labels[0, :4] = -100  # a prompt
    labels[2, 7:] = -100  # padding

    # 5 tokens a chunk: several chunks and a short last one.
    got = chunked_cross_entropy(hidden, weight, bias, labels, chunk_tokens=5)
    got.loss_sum.backward()
    got_grads = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None
    want = _full_loss_sum(hidden, weight, bias, labels)
    want.backward()

    torch.testing.assert_close(got.loss_sum, want, rtol=1e-6, atol=1e-6)
    for got_grad, t in zip(got_grads, (hidden, weight, bias), strict=True):
        torch.testing.assert_close(got_grad, t.grad, rtol=1e-6, atol=1e-8)
    with torch.no_grad():
        logits = torch.nn.functional.linear(hidden[:, :-1], weight, bias)
        mask = labels[:, 1:] != -100
        logp = logits.log_softmax(-1)[mask]
        entropy = -(logp.exp() * logp).sum()
        correct = (logits.argmax(-1)[mask] == labels[:, 1:][mask]).sum()
    assert int(got.tokens) == int(mask.sum()) == 3 * 10 - 3 - 4
    torch.testing.assert_close(got.entropy_sum, entropy, rtol=1e-5, atol=1e-5)
    assert int(got.correct) == int(correct)


def test_a_batch_without_labels_gives_a_differentiable_zero():
    hidden = torch.randn(1, 4, 8, requires_grad=True)
    weight = torch.randn(32, 8)
    got = chunked_cross_entropy(hidden, weight, None, torch.full((1, 4), -100))
    got.loss_sum.backward()
    assert float(got.loss_sum.detach()) == 0.0 and int(got.tokens) == 0
    assert torch.equal(hidden.grad, torch.zeros_like(hidden))


@pytest.fixture(scope="module")
def lora_model(tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    model = get_peft_model(
        base, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    )
    model.config.use_cache = False
    return model


@pytest.fixture(scope="module")
def examples(tiny_model, finetome):
    from transformers import AutoTokenizer

    from loralab.config import DataConfig
    from loralab.data import load_conversations

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows, _ = load_conversations(DataConfig(source=str(finetome), max_samples=4), seed=0)
    data = tokenize_conversations(rows, tokenizer, max_length=200)
    out = [data.dataset[i] for i in range(len(data.dataset))]
    assert len({len(e["input_ids"]) for e in out}) > 1  # the padded batch really pads
    return out, tokenizer.pad_token_id


@pytest.mark.parametrize("padding_free", [False, True], ids=["padded", "padding-free"])
def test_chunked_loss_matches_the_models_own_loss_and_lora_gradients(
    lora_model, examples, padding_free
):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    rows, pad = examples
    batch = DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=padding_free)(rows)
    labels = batch.pop("labels")
    trained = [p for p in lora_model.parameters() if p.requires_grad]

    # The model's own loss: full logits, mean over the label tokens.
    lora_model.zero_grad()
    want = lora_model(**batch, labels=labels).loss
    want.backward()
    want_grads = [p.grad.clone() for p in trained]

    lora_model.zero_grad()
    out = lora_model(**batch, output_hidden_states=True, logits_to_keep=1)
    assert out.logits.shape[1] == 1  # the full logits were never built
    head = lora_model.get_output_embeddings()
    got = chunked_cross_entropy(
        out.hidden_states[-1],
        head.weight,
        head.bias,
        labels,
        position_ids=batch.get("position_ids"),
        chunk_tokens=64,
    )
    loss = got.loss_sum / got.tokens
    loss.backward()

    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)
    worst = max(
        float((p.grad - g).abs().max() / g.abs().max().clamp(min=1e-12))
        for p, g in zip(trained, want_grads, strict=True)
    )
    assert worst < 1e-4, f"largest relative gradient difference {worst:.2e}"


def test_the_tiny_model_is_supported_and_a_softcapping_model_is_not(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert chunked_loss_unsupported(model) is None
    model.config.final_logit_softcapping = 30.0
    assert "final_logit_softcapping" in chunked_loss_unsupported(model)


@pytest.mark.parametrize("padding_free", [True, False], ids=["padding-free", "padded"])
def test_a_run_with_the_chunked_loss_trains_as_one_with_trls_loss(
    tiny_model, finetome, tmp_path, padding_free
):
    from loralab.training import StepProgress

    from .conftest import _train_spying, tiny_config

    def run(chunked: bool):
        config = tiny_config(
            tiny_model,
            finetome,
            tmp_path / f"chunked-{chunked}",
            chunked_loss=chunked,
            padding_free=padding_free,
            max_steps=3,
        )
        held_out = config.data.model_copy(update={"eval_fraction": 0.25})  # evaluated at the end
        trained = _train_spying(config.model_copy(update={"data": held_out}))
        steps = [e for e in trained.reporter.of(StepProgress) if e.loss is not None]
        card = json.loads(trained.result.run_card.read_text())
        return steps, card["speed"]["chunked_loss"], trained.result.metrics

    chunked, chunked_choice, chunked_metrics = run(True)
    trl, trl_choice, trl_metrics = run(False)
    assert chunked_choice == {"value": True, "reason": "train.chunked_loss"}
    assert trl_choice == {"value": False, "reason": "train.chunked_loss"}
    assert chunked_metrics["eval_loss"] == pytest.approx(trl_metrics["eval_loss"], rel=1e-4)
    assert [s.step for s in chunked] == [s.step for s in trl] == [1, 2, 3]
    for ours, theirs in zip(chunked, trl, strict=True):
        assert ours.loss == pytest.approx(theirs.loss, rel=1e-4), ours.step
        assert ours.grad_norm == pytest.approx(theirs.grad_norm, rel=1e-3), ours.step
        for name in ("entropy", "mean_token_accuracy"):
            assert ours.metrics[name] == pytest.approx(theirs.metrics[name], rel=1e-4), name
