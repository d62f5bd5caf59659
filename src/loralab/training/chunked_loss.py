"""Cross-entropy from the final hidden states, a chunk of tokens at a time.

A causal LM's loss needs logits over the whole vocabulary for every trained token. SmolLM2's
49k vocabulary on a 2,048-token micro-batch is 400 MB of float32 logits, and the softmax and
its gradient make more such copies. Here only the positions that have a label go through the
LM head, ``chunk_tokens`` of them at a time, and each chunk's logits are turned into their
gradient as soon as its loss is known, then dropped. A ``torch.utils.checkpoint`` per chunk
would save the same memory but pay a third matrix product to recompute the logits in the
backward; this costs the two that the full logits cost. Peak memory for the loss is about two
copies of one chunk's logits, plus the gradient of the hidden states (tokens x hidden).

TRL 1.16's SFTTrainer has a fused LM head of its own (``trl.trainer.utils.add_fused_lm_head``);
without Triton (on CPU) it scores every position, prompt tokens included, in tiles of 4,096
tokens by 32,768 vocabulary columns, and folds each tile with several full-size float32
temporaries. ``ChunkedLossSFTTrainer`` replaces it where it can and falls back to it where it
cannot (``chunked_loss_unsupported`` says why).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from trl import SFTTrainer

from loralab.training.builders import Choice

__all__ = [
    "ChunkedLoss",
    "ChunkedLossSFTTrainer",
    "choose_chunked_loss",
    "chunk_tokens_for",
    "chunked_cross_entropy",
    "chunked_loss_unsupported",
]

# Elements of one chunk's logits: 8M float32 values (32 MB) measured as fast as larger chunks
# on SmolLM2 here, and the loss's peak stays near this size.
_CHUNK_ELEMENTS = 2**23
# Config attributes that change the logits after the LM head (Gemma 2's softcap, Cohere's and
# Granite's scales ...). The chunked loss computes plain ``hidden @ lm_head.weight.T + bias``;
# for these models TRL's own fused head, which knows them, is kept.
_LOGIT_TRANSFORMS = (
    "final_logit_softcapping",
    "logit_scale",
    "output_multiplier",
    "lm_head_multiplier",
    "logits_scaling",
)


@dataclass
class ChunkedLoss:
    """The summed loss over the labelled tokens, and statistics for the logs (no gradient)."""

    loss_sum: torch.Tensor  # float32 scalar, differentiable
    tokens: torch.Tensor  # labelled tokens counted
    entropy_sum: torch.Tensor
    correct: torch.Tensor  # labels that were the most likely next token


def chunk_tokens_for(vocab_size: int) -> int:
    """Tokens per chunk for a vocabulary: about 8M logits a chunk, at least 16 tokens."""
    return max(16, _CHUNK_ELEMENTS // max(1, vocab_size))


def chunked_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    labels: torch.Tensor,
    *,
    position_ids: torch.Tensor | None = None,
    chunk_tokens: int | None = None,
) -> ChunkedLoss:
    """Next-token cross-entropy of ``hidden @ weight.T + bias`` against ``labels``, summed.

    Args:
        hidden: final hidden states, ``[batch, seq, hidden]`` (after the model's last norm).
        weight, bias: the LM head, ``[vocab, hidden]`` and ``[vocab]`` or None.
        labels: ``[batch, seq]`` token ids, -100 where no loss (prompt, padding); not shifted:
            position t is scored on the label at t + 1, as transformers does.
        position_ids: for padding-free batches (one row of sequences end to end, positions
            restarting at 0): a label where a new sequence starts is never predicted from the
            sequence before it.
        chunk_tokens: labelled tokens per chunk (default ``chunk_tokens_for(vocab)``).

    Returns:
        A ``ChunkedLoss``; divide ``loss_sum`` by the number of label tokens for the mean.
    """
    targets = labels[:, 1:]
    keep = targets != -100
    if position_ids is not None:
        keep = keep & (position_ids[:, 1:] != 0)
    states = hidden[:, :-1][keep]
    targets = targets[keep]
    chunk = chunk_tokens or chunk_tokens_for(weight.shape[0])
    loss_sum, entropy_sum, correct = _ChunkedCrossEntropy.apply(
        states, weight, bias, targets, chunk
    )
    return ChunkedLoss(loss_sum, keep.sum(), entropy_sum, correct)


def _compute_dtype(device: torch.device, dtype: torch.dtype) -> torch.dtype:
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return dtype


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of ``hidden @ weight.T + bias``, one chunk of rows at a time.

    The loss is a plain sum, so its gradient is known in the forward: each chunk's logits
    become their gradient (softmax minus one-hot) right away and are multiplied back onto the
    hidden states (and the head's weight and bias when they train). The backward only scales
    those gradients, so no logits are kept and none are recomputed: two matrix products per
    chunk, as with the full logits (the fused linear cross-entropy of Liger-Kernel).
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk):
        dtype = _compute_dtype(hidden.device, hidden.dtype)
        acc = torch.promote_types(dtype, torch.float32)  # softmax and sums in float32 at least
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_hidden = torch.zeros_like(hidden) if need_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=acc) if need_weight else None
        grad_bias = torch.zeros_like(bias, dtype=acc) if need_bias else None
        loss_sum = torch.zeros((), device=hidden.device, dtype=acc)
        entropy_sum = torch.zeros((), device=hidden.device, dtype=acc)
        correct = torch.zeros((), device=hidden.device, dtype=torch.long)
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(dtype)
            b = bias.to(dtype) if bias is not None else None
            for start in range(0, hidden.shape[0], chunk):
                rows = slice(start, start + chunk)
                h, y = hidden[rows].to(dtype), targets[rows]
                logp = _logits(h, w, b).log_softmax(dim=-1)
                target = logp.gather(1, y[:, None]).squeeze(1)
                loss_sum -= target.sum()
                correct += (target >= logp.amax(dim=-1)).sum()
                p = logp.exp()
                entropy_sum -= (p * logp).sum()
                del logp
                if not (need_hidden or need_weight or need_bias):
                    continue
                # d loss / d logits = softmax - one_hot(target), built in place of p
                p[torch.arange(p.shape[0], device=p.device), y] -= 1.0
                grad = p.to(dtype)
                if grad_hidden is not None:
                    grad_hidden[rows] = (grad @ w).to(hidden.dtype)
                if grad_weight is not None:
                    grad_weight += p.t() @ h.to(acc)
                if grad_bias is not None:
                    grad_bias += p.sum(dim=0)
                del p, grad
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.dtypes = (weight.dtype, bias.dtype if bias is not None else None)
        ctx.mark_non_differentiable(entropy_sum, correct)
        return loss_sum, entropy_sum, correct

    @staticmethod
    def backward(ctx, grad_loss, _grad_entropy, _grad_correct):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        weight_dtype, bias_dtype = ctx.dtypes

        def scaled(grad, dtype):
            return None if grad is None else (grad * grad_loss).to(dtype)

        return (
            scaled(grad_hidden, grad_hidden.dtype if grad_hidden is not None else None),
            scaled(grad_weight, weight_dtype),
            scaled(grad_bias, bias_dtype),
            None,
            None,
        )


def _logits(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    out = torch.mm(h, w.t()) if b is None else torch.addmm(b, h, w.t())
    return out.to(torch.promote_types(out.dtype, torch.float32))


def chunked_loss_unsupported(model) -> str | None:
    """Why the chunked loss cannot replace ``model``'s own, or None when it can.

    It needs a model whose forward takes ``logits_to_keep`` (so the full logits are never
    built) and whose logits are the plain LM head's output.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if "logits_to_keep" not in inspect.signature(type(base).forward).parameters:
        return f"{type(base).__name__}.forward takes no logits_to_keep"
    head = base.get_output_embeddings()
    if head is None or getattr(head, "weight", None) is None:
        return f"{type(base).__name__} has no output embedding with a weight"
    config = base.config.get_text_config()
    for name in _LOGIT_TRANSFORMS:
        if getattr(config, name, None) is not None:
            return f"the model transforms its logits ({name})"
    if getattr(config, "output_router_logits", False):
        return "mixture-of-experts models add a router loss"
    return None


def choose_chunked_loss(setting: bool | None, device: str, model) -> Choice:
    """Whether the run computes its loss with ``chunked_cross_entropy``, and why.

    ``setting`` is ``train.chunked_loss``. Empty (auto) means on CPU: there it measured about
    2x faster than TRL's fused head and held 15-30x less memory for the loss, at every
    vocabulary size tried (2k-49k; docs/training.md). On GPU TRL's fused Triton head is kept
    (not measured against). A model it cannot handle keeps TRL's head whatever the setting.
    """
    if setting is False:
        return Choice(False, "train.chunked_loss")
    why_not = chunked_loss_unsupported(model)
    if why_not:
        return Choice(False, f"off: {why_not}")
    if setting:
        return Choice(True, "train.chunked_loss")
    if device != "cpu":
        return Choice(False, f"off: TRL's fused LM head on {device}")
    return Choice(True, "on: less memory and faster than TRL's fused head on CPU")


class ChunkedLossSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer with the loss from ``chunked_cross_entropy``.

    Only ``compute_loss`` changes, for plain next-token training (``loss_type="nll"``, no label
    smoothing, no custom loss, no MoE router loss); anything else goes to TRL's own. It logs the
    same ``entropy``, ``mean_token_accuracy`` and ``num_tokens`` as TRL 1.16.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if (
            return_outputs
            or self.aux_loss_enabled
            or self.compute_loss_func is not None
            or self.label_smoother is not None
            or self.args.loss_type != "nll"
        ):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        mode = "train" if self.model.training else "eval"
        labels = inputs["labels"]
        forward = {k: v for k, v in inputs.items() if k != "labels"}
        # logits_to_keep=1: the LM head runs on one position a row; the loss uses the hidden
        # states (the last of them is the final norm's output, as transformers 5 ties it).
        outputs = model(**forward, use_cache=False, output_hidden_states=True, logits_to_keep=1)
        base = self.accelerator.unwrap_model(model)
        base = base.get_base_model() if hasattr(base, "get_base_model") else base
        head = base.get_output_embeddings()
        result = chunked_cross_entropy(
            outputs.hidden_states[-1].to(head.weight.device),
            head.weight,
            head.bias,
            labels.to(head.weight.device),
            position_ids=inputs.get("position_ids"),
        )
        count = result.tokens if num_items_in_batch is None else num_items_in_batch
        loss = result.loss_sum / torch.as_tensor(count).clamp(min=1)
        # As TRL and Trainer: num_items_in_batch counts every rank's tokens; DDP averages.
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self._tp_size)
        self._log_token_metrics(mode, inputs, result)
        return loss

    def _log_token_metrics(self, mode: str, inputs, result: ChunkedLoss) -> None:
        gather = self.accelerator.gather_for_metrics
        valid = gather(result.tokens).sum()
        entropy = gather(result.entropy_sum.detach()).sum()
        correct = gather(result.correct).sum()
        self._metrics[mode]["entropy"].append((entropy / valid).item() if valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append(
            (correct / valid).item() if valid > 0 else 0.0
        )
        if mode == "train":
            if "attention_mask" in inputs:
                local = inputs["attention_mask"].sum()
            else:  # padding-free: one row of real tokens
                positions = inputs["position_ids"]
                local = torch.tensor(positions.size(1), device=positions.device)
            self._total_train_tokens += gather(local).sum().item() // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
