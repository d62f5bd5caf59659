"""Tokenization without transformers: a model's ``tokenizer.json``, assistant masks from
character spans, and batched token counts. Accepts a ``tokenizers.Tokenizer`` or a transformers
fast tokenizer alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loralab.errors import ModelError, Unsupported

__all__ = ["count_tokens", "load_light_tokenizer", "tokenize_with_mask"]

Span = tuple[int, int]


def load_light_tokenizer(model_dir: str | Path):
    """The model's ``tokenizer.json`` as a ``tokenizers.Tokenizer`` (no transformers needed).

    Raises:
        ModelError: the folder has no ``tokenizer.json`` (slow-tokenizer-only models), or it
            cannot be read.
    """
    from tokenizers import Tokenizer

    path = Path(model_dir).expanduser() / "tokenizer.json"
    if not path.is_file():
        raise ModelError(
            f"{path.parent} has no tokenizer.json.",
            fix="Use a model with a fast tokenizer (tokenizer.json).",
        )
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad files
        raise ModelError(f"Cannot read {path}: {exc}") from exc


def _encode(tokenizer, text: str) -> tuple[list[int], list[Span]]:
    # A transformers tokenizer is callable; a tokenizers.Tokenizer is not. Chat text already
    # holds its special tokens, so none are added (as apply_chat_template does).
    if callable(tokenizer):
        try:
            out = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        except NotImplementedError as exc:
            raise Unsupported(
                "Assistant masks need a fast tokenizer (with offsets).",
                fix="Use a model with a tokenizer.json.",
            ) from exc
        return list(out["input_ids"]), [tuple(o) for o in out["offset_mapping"]]
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return list(encoding.ids), list(encoding.offsets)


def tokenize_with_mask(
    tokenizer, text: str, spans: Sequence[Span], max_length: int | None = None
) -> tuple[list[int], list[int]]:
    """Tokenize ``text`` and mark the tokens that fall in ``spans``.

    A token is marked when its characters overlap a span (as transformers'
    ``return_assistant_tokens_mask`` does); a token with empty offsets is marked when it sits
    inside one.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` or a transformers fast tokenizer.
        text: the rendered conversation.
        spans: ``(start, end)`` character ranges, from ``render_with_spans``.
        max_length: keep at most this many tokens (truncating the end).

    Returns:
        ``(input_ids, assistant_mask)``, two lists of equal length; the mask holds 1 for tokens
        to learn and 0 for the rest.
    """
    ids, offsets = _encode(tokenizer, text)
    ordered = sorted(spans)
    mask = []
    k = 0
    previous = 0
    for start, end in offsets:
        if start < previous:  # offsets go back only with unusual normalizers
            k = 0
        previous = start
        # Skip the spans that end at or before this token; only the next one can hold it.
        while k < len(ordered) and ordered[k][1] <= start:
            k += 1
        if k == len(ordered):
            mask.append(0)
            continue
        span_start = ordered[k][0]
        mask.append(int(span_start <= start if start == end else end > span_start))
    if max_length is not None:
        ids, mask = ids[:max_length], mask[:max_length]
    return ids, mask


def count_tokens(tokenizer, texts: Sequence[str]) -> list[int]:
    """The number of tokens of each text (no special tokens added), batched for speed."""
    if not texts:
        return []
    if callable(tokenizer):
        out = tokenizer(list(texts), add_special_tokens=False)
        return [len(ids) for ids in out["input_ids"]]
    # encode_batch_fast (tokenizers >= 0.20) skips the offsets, which counting does not need.
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    return [len(e.ids) for e in encode(list(texts), add_special_tokens=False)]
