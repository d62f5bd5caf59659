"""Turn one source row into a canonical row.

SFT rows become ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``;
preference pairs become TRL's conversational preference shape
``{"prompt": [messages], "chosen": [assistant messages], "rejected": [assistant messages]}``;
unpaired preference rows (KTO's good and bad replies) become a conversation and its label,
``{"messages": [prompt messages..., assistant reply...], "label": bool}``, the reply being the
final run of assistant turns (``split_reply``). A row that cannot be converted raises
``RowError`` naming the field and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from loralab.data.fields import FORMAT_FIELDS, format_task
from loralab.data.records import RowError, describe_value

__all__ = ["LABEL_WORDS", "SQUAD_NO_ANSWER", "check_role_order", "convert_row", "split_reply"]

# SQuAD v2 marks unanswerable questions with an empty answer list; training the model to say
# so is the point of v2, so those rows get this reply rather than being dropped.
SQUAD_NO_ANSWER = "The passage does not answer this question."

_ROLES = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "chatgpt": "assistant",
}

# How a good (True) or bad (False) reply may be spelled in an unpaired preference dataset.
LABEL_WORDS = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "good": True,
    "bad": False,
    "desirable": True,
    "undesirable": False,
    "positive": True,
    "negative": False,
}


def convert_row(
    row: Mapping[str, Any],
    format: str,
    field_mapping: Mapping[str, str],
    *,
    system_prompt: str | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Convert one row of ``format`` to its canonical form.

    Args:
        row: the source row (column -> value).
        format: one of ``FORMAT_FIELDS``.
        field_mapping: format field -> column, complete for the required fields (see
            ``resolve_format``).
        system_prompt: put first as a system message, unless the row starts with its own.

    Raises:
        RowError: a field is missing, empty or of the wrong type, a role is unknown, a label
            is not good or bad, or an SFT conversation has no assistant turn. ``loc`` names
            the column (and message).
    """
    if format not in FORMAT_FIELDS:
        raise ValueError(f"unknown format {format!r}")
    get = _Getter(row, field_mapping)
    if format == "unpaired_preference":
        return _unpaired(get, system_prompt)
    if format_task(format) == "preference":
        return _preference(get, system_prompt)
    if format in ("conversations", "messages"):
        messages = get.messages(format)
    elif format == "alpaca":
        messages = _turn(
            _join(get.text("instruction"), get.text("input", required=False)), get.text("output")
        )
    elif format == "dolly":
        messages = _turn(
            _join(get.text("instruction"), get.text("context", required=False)),
            get.text("response"),
        )
    elif format == "prompt_completion":
        messages = get.text_or_messages("prompt", "user") + get.text_or_messages(
            "completion", "assistant"
        )
    elif format == "question_answer":
        messages = _turn(get.text("question"), get.text("answer"))
    elif format == "problem_solution":
        messages = _turn(get.text("problem"), get.text("solution"))
    else:  # squad
        user = f"{get.text('context')}\n\nQuestion: {get.text('question')}"
        messages = _turn(user, get.answer("answers"))
    if not any(m["role"] == "assistant" for m in messages):
        column = next(iter(field_mapping.values()), None)
        raise RowError(column, "no_assistant_turn", "the conversation has no assistant turn")
    return {"messages": _with_system(messages, system_prompt)}


def check_role_order(messages: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Problems with the order of roles that a chat template may reject or that waste data.

    Returns ``(code, message)`` pairs: ``system_not_first``, ``consecutive_roles`` (e.g. two
    user turns in a row), ``assistant_first``, ``not_ending_with_assistant``.
    """
    problems: list[tuple[str, str]] = []
    roles = [m["role"] for m in messages]
    if "system" in roles[1:]:
        problems.append(
            ("system_not_first", f"a system message at turn {roles.index('system', 1) + 1}")
        )
    turns = [r for r in roles if r != "system"]
    for i in range(1, len(turns)):
        if turns[i] == turns[i - 1]:
            problems.append(("consecutive_roles", f"two {turns[i]} turns in a row"))
            break
    if turns and turns[0] == "assistant":
        problems.append(("assistant_first", "the conversation starts with an assistant turn"))
    if turns and turns[-1] != "assistant":
        problems.append(
            ("not_ending_with_assistant", f"the conversation ends with a {turns[-1]} turn")
        )
    return problems


def _turn(user: str, assistant: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _join(first: str, second: str) -> str:
    return f"{first}\n\n{second}" if second.strip() else first


def _with_system(messages: list[dict[str, str]], system_prompt: str | None):
    if system_prompt and (not messages or messages[0]["role"] != "system"):
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def _preference(get: _Getter, system_prompt: str | None) -> dict[str, list[dict[str, str]]]:
    chosen = get.text_or_messages("chosen", "assistant")
    rejected = get.text_or_messages("rejected", "assistant")
    # Message lists often repeat the prompt (UltraFeedback: [user, assistant]); the prompt is
    # what precedes the final run of assistant turns, and must be the same on both sides.
    chosen_prompt, chosen = split_reply(chosen)
    rejected_prompt, rejected = split_reply(rejected)
    for name, reply in (("chosen", chosen), ("rejected", rejected)):
        if not reply:
            raise RowError(
                get.column(name), "no_assistant_turn", f"`{name}` has no assistant reply"
            )
    if chosen_prompt and rejected_prompt and chosen_prompt != rejected_prompt:
        raise RowError(
            get.column("chosen"),
            "prompt_mismatch",
            "`chosen` and `rejected` have different prompts",
        )
    prompt = chosen_prompt or rejected_prompt
    if not prompt:
        if get.column("prompt") is None:
            raise RowError("prompt", "missing_field", "no prompt: map a column to `prompt`")
        prompt = get.text_or_messages("prompt", "user")
    return {
        "prompt": _with_system(prompt, system_prompt),
        "chosen": chosen,
        "rejected": rejected,
    }


def _unpaired(get: _Getter, system_prompt: str | None) -> dict[str, Any]:
    prompt = get.text_or_messages("prompt", "user")
    completion = get.text_or_messages("completion", "assistant")
    label = get.label("label")
    if prompt[-1]["role"] == "assistant":
        raise RowError(
            get.column("prompt"),
            "prompt_ends_with_reply",
            "`prompt` ends with an assistant turn; the reply to label belongs in `completion`",
        )
    roles = {m["role"] for m in completion}
    if roles != {"assistant"}:
        other = sorted(roles - {"assistant"})[0]
        raise RowError(
            get.column("completion"),
            "not_a_reply",
            f"`completion` holds a {other} turn; it must hold only the assistant's reply",
        )
    return {"messages": _with_system(prompt + completion, system_prompt), "label": label}


def split_reply(
    messages: list[dict[str, str]],
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``(prompt, reply)``: the messages before the final run of assistant turns, and that run."""
    end = len(messages)
    start = end
    while start > 0 and messages[start - 1]["role"] == "assistant":
        start -= 1
    return messages[:start], messages[start:]


class _Getter:
    """Reads mapped fields from a row with per-field errors."""

    def __init__(self, row: Mapping[str, Any], mapping: Mapping[str, str]) -> None:
        self.row = row
        self.mapping = mapping

    def column(self, field: str) -> str | None:
        return self.mapping.get(field)

    def _value(self, field: str, *, required: bool = True) -> tuple[str | None, Any]:
        column = self.mapping.get(field)
        if column is None:
            if required:
                raise RowError(field, "missing_field", f"no column is mapped to `{field}`")
            return None, None
        if column not in self.row:
            if required:
                raise RowError(column, "missing_field", f"`{column}` is missing")
            return column, None
        return column, self.row[column]

    def text(self, field: str, *, required: bool = True) -> str:
        column, value = self._value(field, required=required)
        return _as_text(column or field, value, required=required)

    def answer(self, field: str) -> str:
        column, value = self._value(field)
        loc = column or field
        if isinstance(value, Mapping):
            value = value.get("text")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise RowError(
                loc, "wrong_type", f"`{loc}` must hold answer texts, got {describe_value(value)}"
            )
        texts = [t for t in value if isinstance(t, str) and t.strip()]
        return texts[0] if texts else SQUAD_NO_ANSWER

    def text_or_messages(self, field: str, role: str) -> list[dict[str, str]]:
        column, value = self._value(field)
        loc = column or field
        if isinstance(value, (list, tuple)) or _looks_like_json_list(value):
            return _parse_messages(loc, value)
        return [{"role": role, "content": _as_text(loc, value, required=True)}]

    def label(self, field: str) -> bool:
        column, value = self._value(field)
        loc = column or field
        if value is None:
            raise RowError(loc, "empty_value", f"`{loc}` is null")
        if type(value).__module__ == "numpy" and hasattr(value, "item"):
            value = value.item()  # a NumPy scalar from a Parquet or hub column
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in LABEL_WORDS:
            return LABEL_WORDS[value.strip().lower()]
        raise RowError(
            loc,
            "bad_label",
            f"`{loc}` must say whether the reply is good or bad (true/false, 1/0, good/bad), "
            f"got {_shown(value)}",
        )

    def messages(self, field: str) -> list[dict[str, str]]:
        column, value = self._value(field)
        return _parse_messages(column or field, value)


def _as_text(loc: str, value: Any, *, required: bool) -> str:
    if value is None:
        if required:
            raise RowError(loc, "empty_value", f"`{loc}` is null")
        return ""
    # Numbers are fine as text (an answer of 42); containers are not.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RowError(loc, "wrong_type", f"`{loc}` must be text, got {describe_value(value)}")
    if required and not value.strip():
        raise RowError(loc, "empty_value", f"`{loc}` is empty")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, (int, float)):
        return repr(value)
    return describe_value(value)


def _looks_like_json_list(value: Any) -> bool:
    # CSV files store message lists as JSON text.
    return isinstance(value, str) and value.lstrip().startswith("[{")


def _parse_messages(loc: str, value: Any) -> list[dict[str, str]]:
    if _looks_like_json_list(value):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise RowError(loc, "bad_json", f"`{loc}` is not a valid JSON message list") from exc
    if value is None:
        raise RowError(loc, "empty_value", f"`{loc}` is null")
    if not isinstance(value, (list, tuple)):
        raise RowError(
            loc, "wrong_type", f"`{loc}` must be a list of messages, got {describe_value(value)}"
        )
    if not value:
        raise RowError(loc, "empty_value", f"`{loc}` has no messages")
    return [_parse_message(f"{loc}[{i}]", m) for i, m in enumerate(value)]


def _parse_message(loc: str, message: Any) -> dict[str, str]:
    if not isinstance(message, Mapping):
        raise RowError(
            loc, "wrong_type", f"`{loc}` must be a message object, got {describe_value(message)}"
        )
    role_key = _present_key(message, ("role", "from"))
    if role_key is None:
        raise RowError(f"{loc}.role", "missing_field", f"`{loc}` has no `role` (or `from`)")
    content_key = _present_key(message, ("content", "value", "text"))
    if content_key is None:
        raise RowError(f"{loc}.content", "missing_field", f"`{loc}` has no `content` (or `value`)")
    raw_role = message[role_key]
    role = _ROLES.get(str(raw_role).strip().lower())
    if role is None:
        raise RowError(
            f"{loc}.{role_key}",
            "unknown_role",
            f"`{loc}.{role_key}` is {raw_role!r}; expected system, user/human or assistant/gpt",
        )
    content = message[content_key]
    if isinstance(content, (list, tuple)):
        # OpenAI content parts: [{"type": "text", "text": ...}]
        parts = [p.get("text") for p in content if isinstance(p, Mapping)]
        if parts and all(isinstance(p, str) for p in parts):
            content = "".join(parts)
    return {"role": role, "content": _as_text(f"{loc}.{content_key}", content, required=True)}


def _present_key(message: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    # Parquet structs unify keys across rows, so an absent key can be present as None.
    for key in keys:
        if message.get(key) is not None:
            return key
    for key in keys:
        if key in message:
            return key
    return None
