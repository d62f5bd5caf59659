"""An Ollama Modelfile: FROM the GGUF, a Go TEMPLATE derived from the chat template, the stop
tokens and the run's system prompt.

Ollama renders TEMPLATE with Go's text/template over ``.System``, ``.Messages`` (``.Role``,
``.Content``) or ``.Prompt``, and ``.Response``. The HF chat template is Jinja, so it is not
translated: it is probed. A conversation of marker strings is rendered through it and compared
with the ChatML layout (Qwen2, SmolLM2, the tiny models); when it matches, the Go template
below renders the same text. Other layouts get no TEMPLATE (Ollama then uses the GGUF's
``tokenizer.chat_template`` where it knows it) and the card says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["ModelfileParts", "chatml_go_template", "derive_template", "render_modelfile"]

Render = Callable[[list[dict[str, str]], bool], str]

_S, _U1, _A1, _U2 = (
    "SYSTEM_MARK_7f3",
    "USER_ONE_MARK_7f3",
    "ASSISTANT_MARK_7f3",
    "USER_TWO_MARK_7f3",
)


def _chatml(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}<|im_end|>\n"


def chatml_go_template(default_system: str | None) -> str:
    """The Go template of a ChatML conversation (``default_system`` when none is given)."""
    default = _chatml("system", default_system) if default_system else ""
    return (
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n"
        "{{ else }}" + default + "{{ end }}"
        "{{ if .Messages }}{{ range .Messages }}"
        '{{ if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
        '{{ else if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}<|im_end|>\n'
        "{{ end }}{{ end }}"
        "{{ else if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
        "<|im_start|>assistant\n{{ .Response }}"
    )


def derive_template(render: Render) -> tuple[str | None, str]:
    """Probe the chat template through ``render(messages, add_generation_prompt)``.

    Returns:
        The Go template (None when the layout is not recognised) and what was found.
    """
    try:
        full = render(
            [
                {"role": "system", "content": _S},
                {"role": "user", "content": _U1},
                {"role": "assistant", "content": _A1},
                {"role": "user", "content": _U2},
            ],
            True,
        )
        bare = render([{"role": "user", "content": _U1}], True)
    except Exception as exc:  # a template may refuse a system turn, say
        return None, f"the chat template could not be probed ({exc})"
    turns = _chatml("user", _U1) + _chatml("assistant", _A1) + _chatml("user", _U2)
    if full != _chatml("system", _S) + turns + "<|im_start|>assistant\n":
        return None, "the chat template is not ChatML; no TEMPLATE was written"
    tail = _chatml("user", _U1) + "<|im_start|>assistant\n"
    if not bare.endswith(tail):
        return None, "the chat template is not ChatML; no TEMPLATE was written"
    prefix = bare[: -len(tail)]
    if not prefix:
        return chatml_go_template(None), "ChatML"
    head, end = "<|im_start|>system\n", "<|im_end|>\n"
    if prefix.startswith(head) and prefix.endswith(end):
        default = prefix[len(head) : -len(end)]
        if "<|im_start|>" not in default:
            return chatml_go_template(default), "ChatML with a default system prompt"
    return None, "the chat template adds text Ollama's template cannot reproduce"


@dataclass
class ModelfileParts:
    """What goes into a Modelfile."""

    gguf_name: str
    template: str | None
    stops: Sequence[str]
    system: str | None
    note: str


def _quoted(text: str) -> str:
    # Ollama reads """...""" literally; a value holding three quotes cannot be written so.
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def render_modelfile(parts: ModelfileParts) -> str:
    """The Modelfile text (``FROM ./gguf/<file>``, relative to the Modelfile's folder)."""
    lines = [
        "# Made by loralab. Run: ollama create <name> -f Modelfile && ollama run <name>",
        f"# Template: {parts.note}",
        f"FROM ./gguf/{parts.gguf_name}",
    ]
    if parts.template is not None:
        lines.append(f"TEMPLATE {_quoted(parts.template)}")
    for stop in parts.stops:
        lines.append(f'PARAMETER stop "{stop}"'.replace("\n", "\\n"))
    if parts.system:
        lines.append(f"SYSTEM {_quoted(parts.system)}")
    return "\n".join(lines) + "\n"
