"""Tokenised datasets on disk, keyed by everything that decides their tokens.

The key covers the canonical rows themselves (so the file's content, the field mapping, the
system prompt, sampling and the train/eval split are all in it), the chat template, the
tokenizer (its whole ``tokenizer.json``) and the settings that change the tokens
(``max_length``, ``assistant_only_loss``). A run on the same data, and a resume, find the
tokens under ``<cache>/<key>/``: the dataset (``datasets.save_to_disk``) and ``facts.json``
(the counts the run card reports). Entries are written under a temporary name and renamed, so
a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["load_tokens", "store_tokens", "tokenized_cache_dir", "tokens_key"]

# Part of every key: bump it when tokenize_conversations changes what it writes (2: the tokens
# fingerprint hashes the arrays' bytes).
CACHE_VERSION = 2
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token")


def tokenized_cache_dir(output_dir: str | Path) -> Path:
    """Where tokenised datasets are cached: ``<data dir>/cache/tokenized`` for server jobs
    (``$LORALAB_DATA_DIR``), else ``.cache/tokenized`` beside the run's output folder."""
    data_dir = os.environ.get("LORALAB_DATA_DIR")
    if data_dir:
        return Path(data_dir).expanduser() / "cache" / "tokenized"
    return Path(output_dir).expanduser().resolve().parent / ".cache" / "tokenized"


def tokens_key(
    rows: Sequence[dict[str, Any]], tokenizer, *, template: str, settings: dict[str, Any]
) -> str:
    """A SHA-256 (32 hex digits) over the rows' messages, the chat template, the tokenizer
    and ``settings`` (JSON-ready values that change the tokens)."""
    digest = hashlib.sha256()
    head = {
        "version": CACHE_VERSION,
        "settings": settings,
        "template": template,
        "special_tokens": {k: getattr(tokenizer, k, None) for k in _SPECIAL_KEYS},
        "tokenizer": _tokenizer_fingerprint(tokenizer),
        "rows": len(rows),
    }
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    for row in rows:
        digest.update(json.dumps(row["messages"], sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:32]


def load_tokens(cache_dir: Path, key: str) -> tuple[Any, dict[str, Any]] | None:
    """The cached ``datasets.Dataset`` and its facts, or None when there is no whole entry."""
    folder = cache_dir / key
    try:
        facts = json.loads((folder / "facts.json").read_text(encoding="utf-8"))
        from datasets import load_from_disk

        return load_from_disk(str(folder / "data")), facts
    except (OSError, ValueError):  # absent, or damaged
        return None


def store_tokens(cache_dir: Path, key: str, dataset: Any, facts: dict[str, Any]) -> bool:
    """Store a dataset and its facts under ``key``; False when it could not (a full disk, or
    another run stored the same key first), which a run can live with."""
    tmp = cache_dir / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with _no_progress_bars():  # they would fill the worker's log
            dataset.save_to_disk(str(tmp / "data"))
        (tmp / "facts.json").write_text(json.dumps(facts), encoding="utf-8")
        os.replace(tmp, cache_dir / key)
        return True
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tokenizer_fingerprint(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # fast tokenizers: the whole tokenizer.json
        text = backend.to_str()
    else:
        text = json.dumps(sorted(tokenizer.get_vocab().items()))
    text += type(tokenizer).__name__ + repr(getattr(tokenizer, "add_bos_token", None))
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def _no_progress_bars():
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()
