"""Parity: do the GGUF files compute what the merged HF model computes?

Each prompt is rendered with the model's own chat template (llama-cpp-python's chat handlers
add turns of their own) and tokenized by both sides: the ids must be equal. The HF model then
continues it greedily; llama.cpp evaluates the prompt plus that continuation once, with the
logits of every position, and at each position of the continuation its argmax is compared with
the HF token (teacher-forced: a flipped near-tie counts once, it does not derail the rest). The
report gives the agreement, the first divergence with the HF logit margin there (top-1 minus
top-2: a small margin is a near-tie, not a broken file) and the largest logit difference.

Pass rules, per quantization: F16/BF16 pass when tokenization is equal and every disagreement
is a near-tie (HF margin below ``NEAR_TIE``); Q8_0 when agreement is at least ``Q8_MIN``; the
lower-bit types are measured and reported, not judged. A failed F16 marks the export suspect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PROMPTS",
    "NEAR_TIE",
    "Q8_MIN",
    "Reference",
    "check_gguf",
    "judge",
    "reference_continuations",
]

DEFAULT_PROMPTS = (
    "What is the capital of France?",
    "Write one sentence about the sea.",
    "List three colours.",
)
NEAR_TIE = 0.1  # logits: a flip below this margin is float rounding, not a wrong weight
Q8_MIN = 0.75  # teacher-forced agreement Q8_0 must reach
MAX_NEW_TOKENS = 16


@dataclass
class Reference:
    """One prompt as the merged HF model sees and continues it."""

    prompt: str
    text: str
    prompt_ids: list[int]
    continuation: list[int]
    logits: Any  # numpy (len(continuation), vocab): HF logits at each continuation position


def reference_continuations(
    model, tokenizer, prompts: list[str], system: str | None, *, max_new_tokens=MAX_NEW_TOKENS
) -> list[Reference]:
    """Render, tokenize and greedily continue each prompt with the HF model (float32)."""
    import torch

    from loralab.export.merge import render_chat

    out = []
    for prompt in prompts:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        text = render_chat(tokenizer, messages, True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            prompt_t = torch.tensor([ids])
            generated = model.generate(
                prompt_t,
                attention_mask=torch.ones_like(prompt_t),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )[0, len(ids) :].tolist()
            full = torch.tensor([ids + generated])
            logits = model(full).logits[0, len(ids) - 1 : len(ids) + len(generated) - 1]
        continuation = generated[: logits.shape[0]]
        out.append(Reference(prompt, text, ids, continuation, logits.float().numpy()))
    return out


def _llama(path: Path, n_ctx: int):
    from llama_cpp import Llama

    return Llama(
        model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, verbose=False, seed=0
    )


def check_gguf(path: Path, references: list[Reference]) -> dict[str, Any]:
    """Compare one GGUF file with the HF references; the per-quantization report."""
    import numpy as np

    longest = max(len(r.prompt_ids) + len(r.continuation) for r in references)
    llm = _llama(path, max(64, longest + 8))
    prompts, agree, total, max_diff, first = [], 0, 0, 0.0, None
    tokenization_equal = True
    for r in references:
        ids = llm.tokenize(r.text.encode("utf-8"), add_bos=False, special=True)
        same_ids = list(ids) == list(r.prompt_ids)
        tokenization_equal &= same_ids
        llm.reset()
        llm.eval(list(r.prompt_ids) + list(r.continuation))
        scores = np.array(llm.scores[: llm.n_tokens], dtype=np.float32)
        start = len(r.prompt_ids) - 1
        ours = scores[start : start + len(r.continuation)]
        width = min(ours.shape[1], r.logits.shape[1])
        diff = float(np.abs(ours[:, :width] - r.logits[:, :width]).max()) if len(ours) else 0.0
        max_diff = max(max_diff, diff)
        matched, disagreements, near_ties_only = 0, 0, True
        divergence = None
        for i, want in enumerate(r.continuation):
            got = int(ours[i].argmax())
            if got == want:
                matched += 1
                continue
            hf = np.sort(r.logits[i])[::-1]
            point = {
                "prompt": r.prompt,
                "position": i,
                "expected_token": int(want),
                "got_token": int(got),
                "hf_margin": float(hf[0] - hf[1]),
                "gguf_margin": float(ours[i][got] - ours[i][want]),
            }
            point["near_tie"] = point["hf_margin"] < NEAR_TIE
            disagreements += 1
            near_ties_only &= point["near_tie"]
            divergence = divergence or point
            first = first or point
        agree += matched
        total += len(r.continuation)
        prompts.append(
            {
                "prompt": r.prompt,
                "tokenization_equal": same_ids,
                "tokens": len(r.continuation),
                "agreement": matched / len(r.continuation) if r.continuation else 1.0,
                "max_logit_diff": diff,
                "first_divergence": divergence,
                "disagreements": disagreements,
                "near_ties_only": near_ties_only,
            }
        )
    del llm
    return {
        "file": path.name,
        "tokenization_equal": tokenization_equal,
        "agreement": agree / total if total else 1.0,
        "tokens": total,
        "max_logit_diff": max_diff,
        "first_divergence": first,
        "prompts": prompts,
    }


def judge(quantization: str, report: dict[str, Any]) -> dict[str, Any]:
    """Add ``passed`` (None when the quantization is reported, not judged) and ``rule``."""
    if quantization in ("f16", "bf16"):
        near_ties_only = all(p["near_ties_only"] for p in report["prompts"])
        passed = report["tokenization_equal"] and (report["agreement"] == 1.0 or near_ties_only)
        rule = f"equal tokenization; every disagreement a near-tie (HF margin < {NEAR_TIE})"
    elif quantization == "q8_0":
        passed = report["tokenization_equal"] and report["agreement"] >= Q8_MIN
        rule = f"equal tokenization; teacher-forced agreement >= {Q8_MIN:.0%}"
    else:
        passed = None
        rule = "measured, not judged: low-bit quantization changes tokens by design"
    return {**report, "quantization": quantization, "passed": passed, "rule": rule}
