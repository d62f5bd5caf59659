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
    "tokenize_many_as_arrays",
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


def _encode_many(tokenizer, texts: list[str]) -> tuple[list[list[int]], list[list[Span]]]:
    # Chat text already holds its special tokens, so none are added (as apply_chat_template
    # does). One call for many texts, on the ``tokenizers.Tokenizer`` itself where that encodes
    # as the transformers tokenizer would: its Python wrapper (a BatchEncoding of lists per row)
    # cost 40% as much as the encoding.
    backend = _plain_backend(tokenizer)
    if backend is not None:
        encodings = backend.encode_batch(texts, add_special_tokens=False)
        return [e.ids for e in encodings], [e.offsets for e in encodings]
    try:
        out = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError as exc:
        raise Unsupported(
            "Assistant masks need a fast tokenizer (with offsets).",
            fix="Use a model with a tokenizer.json.",
        ) from exc
    return list(out["input_ids"]), list(out["offset_mapping"])


def _plain_backend(tokenizer):
    """The ``tokenizers.Tokenizer`` under ``tokenizer`` when encoding with it directly gives what
    ``tokenizer(texts, add_special_tokens=False)`` gives (no truncation or padding set on it,
    special tokens kept whole as transformers keeps them), else None: then transformers encodes.
    A ``tokenizers.Tokenizer`` (not callable) is its own backend."""
    if not callable(tokenizer):
        return tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.truncation is not None or backend.padding is not None:
        return None
    if bool(getattr(tokenizer, "split_special_tokens", False)) != backend.encode_special_tokens:
        return None
    return backend


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
    return [
        (ids[:max_length].tolist(), mask[:max_length].astype("int8").tolist())
        for ids, mask in tokenize_many_as_arrays(tokenizer, texts, spans)
    ]


def tokenize_many_as_arrays(tokenizer, texts: Sequence[str], spans: Sequence[Sequence[Span]]):
    """``tokenize_many_with_mask`` as numpy arrays, untruncated: ``(input_ids, mask)`` per text,
    int64 ids and a bool mask. Training's form: no Python int per token on the way to Arrow.

    Raises:
        Unsupported: a transformers tokenizer without offsets (a slow one).
    """
    import numpy as np

    if not texts:
        return []
    all_ids, all_offsets = _encode_many(tokenizer, list(texts))
    return [
        (np.asarray(ids, dtype=np.int64), _mask_array(offsets, row_spans))
        for ids, offsets, row_spans in zip(all_ids, all_offsets, spans, strict=True)
    ]


def assistant_mask(offsets: Sequence[Span], spans: Sequence[Span]) -> list[int]:
    """1 for each token (``(start, end)`` character offsets) that falls in one of ``spans``.

    For each token, the span that can hold it is the first one ending after the token starts;
    a token is marked when it ends after that span starts, or, with empty offsets, when it sits
    at or after the span's start. Vectorised: a Python loop over the tokens cost as much as
    tokenizing them.
    """
    return _mask_array(offsets, spans).astype("int8").tolist()


def _mask_array(offsets: Sequence[Span], spans: Sequence[Span]):
    import numpy as np

    if not len(offsets):
        return np.zeros(0, dtype=bool)
    if not spans:
        return np.zeros(len(offsets), dtype=bool)
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
    return inside & np.where(start == end, first <= start, end > first)


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
