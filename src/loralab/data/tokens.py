"""Tokenization without transformers: a model's ``tokenizer.json``, assistant masks from
character spans, and batched token counts. Accepts a ``tokenizers.Tokenizer`` or a transformers
fast tokenizer alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from loralab.errors import ModelError, Unsupported

__all__ = [
    "assistant_mask",
    "count_tokens",
    "load_light_tokenizer",
    "tokenize_many_with_mask",
    "tokenize_with_mask",
]

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
    ids, offsets = _encode_many(tokenizer, [text])
    return ids[0], offsets[0]


def _encode_many(tokenizer, texts: list[str]) -> tuple[list[list[int]], list[list[Span]]]:
    # A transformers tokenizer is callable; a tokenizers.Tokenizer is not. Chat text already
    # holds its special tokens, so none are added (as apply_chat_template does). One call for
    # many texts: transformers' per-call overhead is about the cost of tokenizing a short chat.
    if callable(tokenizer):
        try:
            out = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        except NotImplementedError as exc:
            raise Unsupported(
                "Assistant masks need a fast tokenizer (with offsets).",
                fix="Use a model with a tokenizer.json.",
            ) from exc
        return list(out["input_ids"]), list(out["offset_mapping"])
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    return [e.ids for e in encodings], [e.offsets for e in encodings]


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

    Raises:
        Unsupported: a transformers tokenizer without offsets (a slow one).
    """
    return tokenize_many_with_mask(tokenizer, [text], [spans], max_length)[0]


def tokenize_many_with_mask(
    tokenizer,
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    max_length: int | None = None,
) -> list[tuple[list[int], list[int]]]:
    """``tokenize_with_mask`` for many texts in one tokenizer call: ``spans[i]`` belong to
    ``texts[i]``; returns ``(input_ids, assistant_mask)`` per text, in order.

    Raises:
        Unsupported: a transformers tokenizer without offsets (a slow one).
    """
    if not texts:
        return []
    all_ids, all_offsets = _encode_many(tokenizer, list(texts))
    out = []
    for ids, offsets, row_spans in zip(all_ids, all_offsets, spans, strict=True):
        mask = assistant_mask(offsets, row_spans)
        ids = list(ids)
        if max_length is not None:
            ids, mask = ids[:max_length], mask[:max_length]
        out.append((ids, mask))
    return out


def assistant_mask(offsets: Sequence[Span], spans: Sequence[Span]) -> list[int]:
    """1 for each token (``(start, end)`` character offsets) that falls in one of ``spans``.

    For each token, the span that can hold it is the first one ending after the token starts;
    a token is marked when it ends after that span starts, or, with empty offsets, when it sits
    at or after the span's start. Vectorised: a Python loop over the tokens cost as much as
    tokenizing them.
    """
    import numpy as np

    if not len(offsets):
        return []
    if not spans:
        return [0] * len(offsets)
    ordered = np.asarray(sorted(spans), dtype=np.int64).reshape(-1, 2)
    span_start = ordered[:, 0]
    # The first span whose end is after ``start``: the running maximum of the ends is sorted,
    # and first exceeds ``start`` at that same span, even when spans overlap.
    reach = np.maximum.accumulate(ordered[:, 1])
    flat = itertools.chain.from_iterable(offsets)  # 3x faster than asarray on tuples
    tokens = np.fromiter(flat, dtype=np.int64, count=2 * len(offsets)).reshape(-1, 2)
    start, end = tokens[:, 0], tokens[:, 1]
    k = np.searchsorted(reach, start, side="right")
    inside = k < len(ordered)
    first = span_start[np.minimum(k, len(ordered) - 1)]
    marked = inside & np.where(start == end, first <= start, end > first)
    return marked.astype(np.int8).tolist()


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
