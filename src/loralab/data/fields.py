"""The fields each dataset format has, and the column names that fill them automatically.

A column fills a field when its normalised name (lower case, runs of non-alphanumerics as
``_``) equals one of the field's names exactly. Never by substring: "text" must not match
"context" (the Unsloth PR #11292 bug).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FORMAT_FIELDS",
    "FORMAT_PRIORITY",
    "PREFERENCE_FORMATS",
    "FieldSpec",
    "format_task",
    "normalise_name",
]

FieldKind = Literal["text", "messages", "answers", "text_or_messages", "label"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of a format: its name (the key in ``field_mapping``), whether a row must have
    it, the column names that fill it automatically, and what its values hold."""

    name: str
    required: bool = True
    aliases: tuple[str, ...] = ()
    kind: FieldKind = "text"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


_CHAT_COLUMNS = ("conversations", "conversation", "messages", "dialogue", "dialog")

FORMAT_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    # ShareGPT / FineTome: [{"from": "human"|"gpt"|"system", "value": ...}]
    "conversations": (FieldSpec("conversations", aliases=_CHAT_COLUMNS, kind="messages"),),
    # OpenAI chat: [{"role": "user"|"assistant"|"system", "content": ...}]
    "messages": (FieldSpec("messages", aliases=_CHAT_COLUMNS, kind="messages"),),
    "alpaca": (
        FieldSpec("instruction"),
        FieldSpec("input", required=False),
        FieldSpec("output"),
    ),
    "dolly": (
        FieldSpec("instruction"),
        FieldSpec("context", required=False),
        FieldSpec("response"),
    ),
    "prompt_completion": (
        FieldSpec("prompt", kind="text_or_messages"),
        FieldSpec("completion", kind="text_or_messages"),
    ),
    "question_answer": (FieldSpec("question"), FieldSpec("answer")),
    "problem_solution": (
        FieldSpec("problem"),
        FieldSpec("solution", aliases=("generated_solution",)),
    ),
    "squad": (
        FieldSpec("context"),
        FieldSpec("question"),
        FieldSpec("answers", kind="answers"),
    ),
    "preference": (
        FieldSpec("prompt", required=False, kind="text_or_messages"),
        FieldSpec("chosen", kind="text_or_messages"),
        FieldSpec("rejected", kind="text_or_messages"),
    ),
    # TRL's unpaired preference format (KTO): one reply per row, marked good (true) or bad.
    "unpaired_preference": (
        FieldSpec("prompt", kind="text_or_messages"),
        FieldSpec("completion", kind="text_or_messages"),
        FieldSpec("label", kind="label"),
    ),
}

# Most specific first: a table that fits several formats gets the first one that fits.
FORMAT_PRIORITY = (
    "preference",
    "unpaired_preference",
    "conversations",
    "messages",
    "squad",
    "dolly",
    "alpaca",
    "problem_solution",
    "question_answer",
    "prompt_completion",
)


# Formats of preference data: chosen/rejected pairs, and single replies labelled good or bad.
PREFERENCE_FORMATS = frozenset({"preference", "unpaired_preference"})


def format_task(format: str) -> Literal["sft", "preference"]:
    """``"preference"`` for preference data (chosen/rejected pairs for DPO and friends, or
    replies labelled good or bad for KTO), ``"sft"`` otherwise."""
    return "preference" if format in PREFERENCE_FORMATS else "sft"


def normalise_name(name: str) -> str:
    """``" Generated-Solution "`` -> ``"generated_solution"``: case and punctuation do not
    matter when matching column names, but every remaining character does."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
