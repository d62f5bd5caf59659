"""Conversations to the trainer's rows: ``input_ids`` and ``labels`` (-100 where no loss).

Rendering and masking belong to the data layer (``render_with_spans``, ``tokenize_with_mask``),
which works with any chat template. Here we turn the mask into labels, drop rows that have no
token left to learn from (e.g. truncated before the assistant speaks) and count what happened,
so the run card can say how many rows were truncated or dropped.

Tokenised splits are cached on disk (``tokens_cache``): the next run on the same data, and a
resume, load the tokens instead of rendering and tokenising again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from loralab.config import DataConfig
from loralab.errors import DataError, FieldProblem, ModelError
from loralab.training.reporter import LogLine, Phase, Reporter
from loralab.training.run import StopEvent
from loralab.training.tokens_cache import load_tokens, store_tokens, tokens_key

__all__ = [
    "Conversations",
    "TokenizedData",
    "chat_template_of",
    "read_conversations",
    "tokenize_conversations",
    "tokenize_splits",
    "write_heldout",
]

_PROGRESS_EVERY = 50
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token")


@dataclass
class Conversations:
    """Canonical rows for training and eval, and facts about where they came from."""

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    facts: dict[str, Any]


def read_conversations(config: DataConfig, *, seed: int, reporter: Reporter) -> Conversations:
    """Read, convert, shuffle and split the rows (see ``loralab.data.load_conversations``).

    Raises:
        DataError: no valid row, or preference pairs (SFT needs conversations).
        NotFound, HubUnavailable: the source cannot be found or reached.
    """
    from loralab.data import load_conversations, source_fingerprint

    reporter.report(Phase(name="preparing_data", message=f"Reading {config.source}"))
    loaded = load_conversations(config, seed=seed)
    if loaded.detection.task == "preference":
        raise DataError(
            f"{config.source} holds preference pairs (prompt, chosen, rejected); SFT needs "
            "conversations.",
            fix="use a conversation or instruction dataset, or a preference method when available",
            problems=[FieldProblem(loc="data.format", message="preference data for sft")],
        )
    if loaded.skipped:
        message = f"Skipped {loaded.skipped} invalid rows of {config.source}."
        reporter.report(LogLine(message=message, level="warning"))
    facts = {
        "source": config.source,
        "format": loaded.detection.format,
        "field_mapping": loaded.detection.field_mapping,
        "fingerprint": source_fingerprint(config.source, split=config.split, subset=config.subset),
        "skipped_rows": loaded.skipped,
    }
    return Conversations(loaded.train, loaded.eval, facts)


def write_heldout(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write the held-out conversations, one ``{"messages": [...]}`` a line, atomically.

    An evaluation of the run reads them back: the last assistant message of each is the
    reference answer, the messages before it the prompt.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({"messages": row["messages"]}, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def tokenize_splits(
    conversations: Conversations,
    tokenizer,
    *,
    max_length: int,
    assistant_only_loss: bool,
    reporter: Reporter,
    stop: StopEvent | None = None,
    cache_dir: Path | None = None,
) -> tuple[TokenizedData, TokenizedData | None]:
    """Tokenise the train rows (reporting progress) and the eval rows, if any.

    With ``cache_dir``, each split is first looked up there (``tokens_cache.tokens_key``) and
    stored there once tokenised (``TokenizedData.cache`` says "hit" or "miss"). When ``stop`` is set
    midway, returns early with ``interrupted`` data, never cached (check ``stop`` after).

    Raises:
        DataError: no training row has a token to learn from.
    """

    def on_progress(done: int, total: int) -> None:
        reporter.report(
            Phase(name="tokenizing", message="Tokenizing conversations", current=done, total=total)
        )

    def tokenize(rows, split, progress=None):
        key = None
        if cache_dir is not None:  # the key reads every row: only worth it with a cache
            key = tokens_key(
                rows,
                tokenizer,
                template=chat_template_of(tokenizer).source,
                settings={
                    "max_length": max_length,
                    "assistant_only_loss": assistant_only_loss,
                    "split": split,
                },
            )
        cached = load_tokens(cache_dir, key) if cache_dir is not None and key else None
        if cached is not None:
            dataset, facts = cached
            known = {f.name for f in fields(TokenizedData)} - {"dataset", "cache"}
            kept = {k: v for k, v in facts.items() if k in known}
            return TokenizedData(dataset=dataset, cache="hit", **kept)
        data = tokenize_conversations(
            rows,
            tokenizer,
            max_length=max_length,
            assistant_only_loss=assistant_only_loss,
            on_progress=progress,
            split=split,
            stop=stop,
        )
        if cache_dir is not None and key and not data.interrupted:
            facts = {f.name: getattr(data, f.name) for f in fields(data)}
            del facts["dataset"], facts["cache"]
            store_tokens(cache_dir, key, data.dataset, facts)
            data.cache = "miss"
        return data

    train = tokenize(conversations.train, "train", on_progress)
    if train.interrupted:
        return train, None
    for note in train.notes():
        reporter.report(LogLine(message=note, level="warning"))
    evaluation = tokenize(conversations.eval, "eval") if conversations.eval else None
    return train, evaluation


@dataclass
class TokenizedData:
    """A ``datasets.Dataset`` with ``input_ids`` and ``labels``, and what it took to build it."""

    dataset: Any
    rows_in: int
    dropped: int = 0
    truncated: int = 0
    tokens: int = 0
    label_tokens: int = 0
    fingerprint: str = ""
    split: str = "train"
    interrupted: bool = False  # a stop came before every row was done
    cache: str = "off"  # "hit": loaded from the tokens cache; "miss": tokenised and stored

    def facts(self) -> dict[str, Any]:
        """Counts for the run card."""
        return {
            "train_examples": len(self.dataset),
            "train_tokens": self.tokens,
            "trained_tokens": self.label_tokens,
            "truncated_examples": self.truncated,
            "dropped_examples": self.dropped,
            "tokens_fingerprint": self.fingerprint,
            "tokens_cache": self.cache,
        }

    def notes(self) -> list[str]:
        """Warnings worth a log line."""
        out = []
        if self.truncated:
            out.append(
                f"{self.truncated} of {self.rows_in} {self.split} conversations were longer than "
                "train.max_seq_length and were truncated."
            )
        if self.dropped:
            out.append(
                f"{self.dropped} {self.split} conversations had no assistant tokens left after "
                "truncation and were skipped."
            )
        return out


def tokenize_conversations(
    rows: Sequence[dict[str, Any]],
    tokenizer,
    *,
    max_length: int,
    assistant_only_loss: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    split: str = "train",
    stop: StopEvent | None = None,
) -> TokenizedData:
    """Render, tokenise and label canonical rows (``{"messages": [...]}``).

    Args:
        rows: canonical conversations from ``loralab.data.load_conversations``.
        tokenizer: the model's tokenizer, with its chat template.
        max_length: truncate to this many tokens.
        assistant_only_loss: labels are the token ids inside assistant spans and -100 elsewhere;
            when False every token is a label.
        on_progress: called as ``(done, total)`` every few dozen rows and at the end.
        split: ``"train"`` or ``"eval"``, for messages.
        stop: checked every few dozen rows; once set, returns what is done, ``interrupted``.

    Raises:
        ModelError: the tokenizer has no chat template (from the data layer).
        DataError: no row has a token to train on.
    """
    import numpy as np

    from loralab.data import render_with_spans, tokenize_many_as_arrays

    template = chat_template_of(tokenizer)
    total = len(rows)
    columns = _TokenColumns()
    out = TokenizedData(dataset=None, rows_in=total, split=split)
    digest = hashlib.sha256()
    # A chunk of rows at a time: one tokenizer call for the chunk, and the stop and progress
    # checks at the same rows as one at a time.
    for first in range(0, total, _PROGRESS_EVERY):
        if stop is not None and stop.is_set():
            out.interrupted = True
            break
        chunk = rows[first : first + _PROGRESS_EVERY]
        rendered = [render_with_spans(template, row["messages"]) for row in chunk]
        encoded = tokenize_many_as_arrays(
            tokenizer, [text for text, _ in rendered], [spans for _, spans in rendered]
        )
        for ids, mask in encoded:
            if len(ids) > max_length:
                out.truncated += 1
                ids, mask = ids[:max_length], mask[:max_length]
            labels = np.where(mask, ids, -100) if assistant_only_loss else ids.copy()
            # The first label is never predicted (nothing before it), so it cannot carry the
            # loss.
            learned = int(np.count_nonzero(labels[1:] != -100))
            if not learned:
                out.dropped += 1
                continue
            columns.add(ids, labels)
            out.tokens += len(ids)
            out.label_tokens += learned
            digest.update(len(ids).to_bytes(8, "little"))
            digest.update(ids.tobytes())
            digest.update(labels.tobytes())
        done = first + len(chunk)
        if on_progress and done % _PROGRESS_EVERY == 0:
            on_progress(done, total)
    if on_progress and not out.interrupted:
        on_progress(total, total)
    if not columns.rows and not out.interrupted:
        raise DataError(
            f"No {split} conversation has an assistant token to train on "
            f"({total} read, {out.dropped} without assistant tokens after truncation).",
            problems=[
                FieldProblem(
                    loc="train.max_seq_length",
                    message=f"{max_length} tokens leave no assistant reply in any row",
                    fix="raise train.max_seq_length, or check that rows have assistant turns",
                )
            ],
            fix="raise train.max_seq_length, or check the data's field mapping",
        )
    out.fingerprint = "sha256:" + digest.hexdigest()
    out.dataset = columns.dataset(digest.hexdigest()[:16])
    return out


class _TokenColumns:
    """``input_ids`` and ``labels`` gathered as Arrow arrays, a few MB at a time.

    Python lists of ints cost about 40 bytes a token (an int object and a pointer), so 100k
    FineTome rows held 2 GB before ``Dataset.from_dict`` copied them once more. Arrow holds
    4 bytes a token for the ids (int32, the type ``Dataset.from_dict`` gave ``input_ids``) and
    8 for the labels (int64), and the dataset is built on those chunks without a copy.
    """

    _CHUNK_TOKENS = 1 << 20

    def __init__(self) -> None:
        self.rows = 0
        self._ids: list = []
        self._labels: list = []
        self._pending_ids: list = []
        self._pending_labels: list = []
        self._pending_tokens = 0

    def add(self, ids, labels) -> None:
        self._pending_ids.append(ids)
        self._pending_labels.append(labels)
        self._pending_tokens += len(ids)
        self.rows += 1
        if self._pending_tokens >= self._CHUNK_TOKENS:
            self._flush()

    def _flush(self) -> None:
        import numpy as np
        import pyarrow as pa

        if not self._pending_ids:
            return
        lengths = np.fromiter((len(a) for a in self._pending_ids), dtype=np.int64)
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
        ids = np.concatenate(self._pending_ids).astype(np.int32)
        labels = np.concatenate(self._pending_labels)
        self._ids.append(pa.ListArray.from_arrays(offsets, pa.array(ids)))
        self._labels.append(pa.ListArray.from_arrays(offsets, pa.array(labels)))
        self._pending_ids, self._pending_labels, self._pending_tokens = [], [], 0

    def dataset(self, fingerprint: str):
        """The rows as a ``datasets.Dataset``, named by ``fingerprint`` (a hash of its tokens):
        without one, ``datasets`` hashes the table by pickling it, a copy of every token."""
        import pyarrow as pa
        from datasets import Dataset
        from datasets.table import InMemoryTable

        self._flush()
        table = pa.table(
            {
                "input_ids": pa.chunked_array(self._ids, type=pa.list_(pa.int32())),
                "labels": pa.chunked_array(self._labels, type=pa.list_(pa.int64())),
            }
        )
        return Dataset(InMemoryTable(table), fingerprint=fingerprint)


def chat_template_of(tokenizer):
    """The tokenizer's chat template with its special tokens (``bos_token`` ...), as a
    ``loralab.data.ChatTemplate``, so templates that print them render as transformers does.

    Raises:
        ModelError: the tokenizer has no chat template.
    """
    from loralab.data import ChatTemplate

    source = getattr(tokenizer, "chat_template", None)
    if isinstance(source, dict):  # named templates
        source = source.get("default") or next(iter(source.values()), None)
    if not source:
        raise ModelError(
            "The model's tokenizer has no chat template.",
            fix="set model.chat_template, or use an instruct model that ships one",
        )
    tokens = {}
    for key in _SPECIAL_KEYS:
        value = getattr(tokenizer, key, None)
        if isinstance(value, str):
            tokens[key] = value
    return ChatTemplate(source, tokens, origin="tokenizer")
