"""Chat templates rendered without transformers.

Templates render the way ``transformers`` renders them (``chat_template_utils.py``, 5.23): a
Jinja ``ImmutableSandboxedEnvironment`` with ``trim_blocks`` and ``lstrip_blocks``,
``raise_exception``, a ``tojson`` that does not escape HTML, ``strftime_now``, the special tokens
(``bos_token``, ``eos_token`` ...) as variables, and ``add_generation_prompt``.

``render_with_spans`` finds the characters of each assistant turn that training learns: from a
template's ``{% generation %}`` blocks when it has them, otherwise by rendering message prefixes,
which works for any template. ``loralab.data.tokens.tokenize_with_mask`` turns those spans into
an assistant mask through the tokenizer's offsets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

from loralab.errors import DataError, ModelError

__all__ = [
    "DEFAULT_CHAT_TEMPLATE",
    "ChatTemplate",
    "load_chat_template",
    "render_chat",
    "render_with_spans",
]

# ChatML, used to show data when no model is chosen yet.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_SPECIAL_KEYS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "pad_token",
    "sep_token",
    "cls_token",
    "mask_token",
)

# Private-use characters that wrap {% generation %} output while rendering; removed after.
_GEN_OPEN = "\ue000"
_GEN_CLOSE = "\ue001"

Span = tuple[int, int]


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template with the special tokens it may use, and where it came from."""

    source: str
    special_tokens: Mapping[str, str] = field(default_factory=dict)
    origin: str = "given"


def load_chat_template(model_dir: str | Path) -> ChatTemplate:
    """The chat template of a model folder: ``chat_template.jinja``, or the ``chat_template``
    of ``tokenizer_config.json``, with its special tokens (``bos_token``, ``eos_token`` ...).

    Raises:
        ModelError: the folder has no chat template, or its files are not valid JSON.
    """
    folder = Path(model_dir).expanduser()
    config = _read_json(folder / "tokenizer_config.json")
    tokens: dict[str, str] = {}
    for source in (_read_json(folder / "special_tokens_map.json"), config):
        for key in _SPECIAL_KEYS:
            value = source.get(key)
            if isinstance(value, Mapping):  # AddedToken as saved by older transformers
                value = value.get("content")
            if isinstance(value, str):
                tokens[key] = value
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.is_file():
        return ChatTemplate(jinja_file.read_text(encoding="utf-8"), tokens, str(jinja_file))
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, Mapping)}
        template = named.get("default") or next(iter(named.values()), None)
    if isinstance(template, str) and template.strip():
        return ChatTemplate(template, tokens, str(folder / "tokenizer_config.json"))
    raise ModelError(
        f"The model in {folder} has no chat template.",
        fix="Set `model.chat_template`, or use an instruct model that ships one.",
    )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def render_chat(
    template: str | ChatTemplate,
    messages: Sequence[Mapping[str, Any]],
    *,
    add_generation_prompt: bool = False,
    **kwargs: Any,
) -> str:
    """Render ``messages`` with a chat template, as ``apply_chat_template(tokenize=False)`` does.

    Args:
        template: Jinja source or a ``ChatTemplate`` (whose special tokens are passed in).
        messages: ``[{"role", "content"}, ...]``.
        add_generation_prompt: end with the header of an assistant turn.
        **kwargs: more template variables; they override the special tokens.

    Raises:
        DataError: the template raised (``raise_exception``) or failed (code ``template_error``).
        ModelError: the template does not compile.
    """
    text = _render(template, messages, add_generation_prompt, kwargs)
    return text.replace(_GEN_OPEN, "").replace(_GEN_CLOSE, "")


def render_with_spans(
    template: str | ChatTemplate,
    messages: Sequence[Mapping[str, Any]],
    *,
    train_from_message: int = 0,
    **kwargs: Any,
) -> tuple[str, list[Span]]:
    """Render a conversation and find the character spans that training learns.

    Each span covers one assistant turn: its content and the end-of-turn marker the template
    puts after it (``<|im_end|>``, ``<|eot_id|>``, ``</s>``), but not the whitespace after that.
    Templates with ``{% generation %}`` blocks give their spans directly; for any other template
    the span starts where ``messages[:i]`` rendered with ``add_generation_prompt=True`` ends and
    stops where ``messages[:i + 1]`` ends.

    Args:
        template: Jinja source or a ``ChatTemplate``.
        messages: the conversation.
        train_from_message: only assistant turns at this index or later are trained (a DPO
            prompt's earlier assistant turns are not).

    Returns:
        ``(text, spans)``: the full rendering and sorted ``(start, end)`` character ranges.

    Raises:
        DataError: the template fails, or an assistant turn cannot be found in the rendering
            (code ``template_error``).
    """
    raw = _render(template, messages, False, kwargs)
    marked = _GEN_OPEN in raw and not any(
        _GEN_OPEN in str(m.get("content", "")) or _GEN_CLOSE in str(m.get("content", ""))
        for m in messages
    )
    if marked:
        text, spans = _marked_spans(raw)
        # Generation blocks are in message order; keep those of the trained turns.
        assistant_indices = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
        if len(spans) == len(assistant_indices):
            spans = [
                s for s, i in zip(spans, assistant_indices, strict=True) if i >= train_from_message
            ]
        return text, spans
    text = raw.replace(_GEN_OPEN, "").replace(_GEN_CLOSE, "")
    spans = []
    cursor = 0
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        start, end = _prefix_span(template, messages, i, text, cursor, kwargs)
        cursor = end
        if i >= train_from_message:
            spans.append((start, end))
    return text, spans


def _prefix_span(template, messages, i, full: str, cursor: int, kwargs) -> Span:
    content = str(messages[i].get("content") or "").strip()
    before = _try_render(template, messages[:i], True, kwargs)
    if before is not None and full.startswith(before) and len(before) >= cursor:
        start = len(before)
    else:
        # No usable generation prompt: start at the content, searched after the earlier turns.
        head = _try_render(template, messages[:i], False, kwargs)
        if head is not None and full.startswith(head):
            cursor = max(cursor, len(head))
        start = _find(full, content, cursor, i)
    upto = _try_render(template, messages[: i + 1], False, kwargs)
    if upto is not None and full.startswith(upto) and len(upto.rstrip()) > start:
        # Keep the end-of-turn marker, drop the newline or spaces the template adds after it.
        return start, len(upto.rstrip())
    # The template renders this turn differently when later turns follow (e.g. it drops the
    # reasoning of earlier turns): find where the turn's rendered ending reappears.
    if upto is not None:
        turn = upto.rstrip()
        if before is not None and turn.startswith(before):
            turn = turn[len(before) :]
        for size in (64, 32, 16, 8):
            tail = turn[-size:]
            at = full.find(tail, start) if tail else -1
            if at >= 0:
                return start, at + len(tail)
    at = _find(full, content, start, i)
    return start, at + len(content)


def _try_render(template, messages, add_generation_prompt: bool, kwargs) -> str | None:
    try:
        return render_chat(
            template, messages, add_generation_prompt=add_generation_prompt, **kwargs
        )
    except DataError:
        return None  # some templates cannot render a prefix (empty, or without a user turn)


def _find(full: str, content: str, cursor: int, index: int) -> int:
    at = full.find(content, cursor) if content else -1
    if at < 0:
        raise DataError(
            f"The chat template does not render message {index + 1} (assistant) verbatim, so its "
            "trained span cannot be found.",
            code="template_error",
        )
    return at


def _marked_spans(raw: str) -> tuple[str, list[Span]]:
    out: list[str] = []
    spans: list[Span] = []
    length = 0
    start = None
    i = 0
    while i < len(raw):
        j = min(
            (k for k in (raw.find(_GEN_OPEN, i), raw.find(_GEN_CLOSE, i)) if k >= 0), default=-1
        )
        if j < 0:
            out.append(raw[i:])
            break
        out.append(raw[i:j])
        length += j - i
        if raw[j] == _GEN_OPEN:
            start = length
        elif start is not None:
            if length > start:
                spans.append((start, length))
            start = None
        i = j + 1
    return "".join(out), spans


def _render(template: str | ChatTemplate, messages, add_generation_prompt: bool, kwargs) -> str:
    # As transformers: tools and documents are passed (as None), then special tokens, then
    # the caller's variables.
    variables: dict[str, Any] = {"tools": None, "documents": None}
    if isinstance(template, ChatTemplate):
        source = template.source
        variables.update(template.special_tokens)
    else:
        source = template
    variables.update(kwargs)
    compiled = _compile(source)
    variables["add_generation_prompt"] = add_generation_prompt
    try:
        return compiled.render(messages=[dict(m) for m in messages], **variables)
    except jinja2.TemplateError as exc:
        raise DataError(f"The chat template failed: {exc}", code="template_error") from exc
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise DataError(f"The chat template failed: {exc!r}", code="template_error") from exc


class _GenerationMarks(Extension):
    """``{% generation %}...{% endgeneration %}``: wraps the block's output in markers."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_mark"), [], [], body).set_lineno(lineno)

    def _mark(self, caller) -> str:
        return _GEN_OPEN + caller() + _GEN_CLOSE


class _Namespace(jinja2.utils.Namespace):
    # As in transformers: no underscore attributes, so templates cannot reach Python internals.
    def __setitem__(self, name, value):
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError("namespace attributes cannot start with '_'")
        super().__setitem__(name, value)


def _raise_exception(message: str):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # Jinja's own tojson escapes HTML characters; transformers replaces it with plain json.dumps.
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


@lru_cache(maxsize=32)
def _compile(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_GenerationMarks, "jinja2.ext.loopcontrols"],
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.globals["namespace"] = _Namespace
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ModelError(
            f"The chat template does not compile: {exc.message} (line {exc.lineno})"
        ) from exc
