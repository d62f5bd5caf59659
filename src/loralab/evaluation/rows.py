"""Rows to evaluate or to answer in a batch: a prompt (chat messages) and, where known, the
answer expected.

Held-out rows are canonical conversations (``{"messages": [...]}``, as a training run wrote
them to ``data/heldout.jsonl``); the last assistant message is the reference and everything
before it is the prompt. A batch prompts file is one prompt per line (``.txt``) or JSON lines
with ``prompt`` (or ``messages``) and an optional ``expected``; any other dataset is read as
conversations through the data layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loralab.errors import DataError

__all__ = [
    "PromptRow",
    "conversation_row",
    "read_conversation_rows",
    "read_heldout",
    "read_prompt_rows",
]


@dataclass(frozen=True)
class PromptRow:
    """One prompt: ``messages`` go to the model, ``prompt`` is what people read (the last user
    message), ``reference`` the expected answer (None when unknown)."""

    id: str
    messages: list[dict[str, str]]
    prompt: str
    reference: str | None = None


def _last_user_text(messages: list[dict[str, str]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return str(messages[-1].get("content") or "") if messages else ""


def conversation_row(row_id: str, messages: Iterable[Mapping[str, Any]]) -> PromptRow | None:
    """The prompt and reference of a conversation: everything before its last assistant
    message, and that message. None when it has no assistant message after a user one."""
    clean = [
        {"role": str(m.get("role") or ""), "content": str(m.get("content") or "")}
        for m in messages
        if isinstance(m, Mapping)
    ]
    last = max((i for i, m in enumerate(clean) if m["role"] == "assistant"), default=None)
    if last is None or not any(m["role"] == "user" for m in clean[:last]):
        return None
    prompt = clean[:last]
    return PromptRow(row_id, prompt, _last_user_text(prompt), clean[last]["content"])


def _json_lines(path: Path) -> Iterable[tuple[int, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except ValueError as exc:
                    raise DataError(f"{path.name} line {number} is not JSON: {exc}") from None


def read_heldout(path: str | Path, *, max_samples: int | None = None) -> list[PromptRow]:
    """The held-out conversations a run wrote, as prompts with references (at most
    ``max_samples``, in the file's order)."""
    rows: list[PromptRow] = []
    for number, record in _json_lines(Path(path)):
        if max_samples is not None and len(rows) >= max_samples:
            break
        messages = record.get("messages") if isinstance(record, dict) else None
        row = conversation_row(str(number - 1), messages or [])
        if row is not None:
            rows.append(row)
    return rows


def read_conversation_rows(data: dict[str, Any], *, max_samples: int | None) -> list[PromptRow]:
    """Rows of a registered dataset (``data`` is a resolved DataConfig as JSON), read as
    conversations by the data layer: shuffled with its seed, then the first ``max_samples``."""
    from loralab.config import DataConfig
    from loralab.data import load_conversations

    config = DataConfig.model_validate(
        {**data, "max_samples": max_samples, "eval_fraction": 0.0, "eval_split": None}
    )
    train, held = load_conversations(config)
    rows = []
    for i, record in enumerate([*train, *held]):
        row = conversation_row(str(i), record.get("messages") or [])
        if row is not None:
            rows.append(row)
    return rows


def _prompt_record(row_id: str, record: Any) -> PromptRow | None:
    if isinstance(record, str):
        text = record
        return PromptRow(row_id, [{"role": "user", "content": text}], text) if text else None
    if not isinstance(record, dict):
        return None
    expected = record.get("expected")
    expected = None if expected is None else str(expected)
    if isinstance(record.get("prompt"), str) and record["prompt"]:
        text = record["prompt"]
        return PromptRow(row_id, [{"role": "user", "content": text}], text, expected)
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        if expected is None:
            row = conversation_row(row_id, messages)
            if row is not None:
                return row
        clean = [
            {"role": str(m.get("role") or "user"), "content": str(m.get("content") or "")}
            for m in messages
            if isinstance(m, dict)
        ]
        return PromptRow(row_id, clean, _last_user_text(clean), expected) if clean else None
    return None


def read_prompt_rows(
    *,
    lines: list[str] | None = None,
    data: dict[str, Any] | None = None,
    max_samples: int | None = None,
) -> list[PromptRow]:
    """The prompts of a batch: the given ``lines``, or the file of a resolved dataset.

    A ``.txt`` file is one prompt per line; JSON lines give ``prompt`` or ``messages`` and an
    optional ``expected``; anything else is read as conversations (the last assistant message
    is the expected answer).

    Raises:
        DataError: the file holds no prompt.
    """
    if lines is not None:
        rows = [_prompt_record(str(i), line) for i, line in enumerate(lines)]
        return [r for r in rows if r is not None][:max_samples]
    assert data is not None
    path = Path(data["source"])
    rows = []
    if path.suffix.lower() == ".txt" and path.is_file():
        text = path.read_text(encoding="utf-8").splitlines()
        rows = [_prompt_record(str(i), line.strip()) for i, line in enumerate(text)]
    elif path.suffix.lower() in (".jsonl", ".ndjson") and path.is_file():
        rows = [_prompt_record(str(n - 1), record) for n, record in _json_lines(path)]
    found = [r for r in rows if r is not None]
    if not found:
        found = read_conversation_rows(data, max_samples=max_samples)
    if not found:
        raise DataError(f"{path.name} holds no prompt.", fix="Give one prompt per line.")
    return found[:max_samples]
