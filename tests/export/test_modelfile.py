"""The Modelfile's TEMPLATE renders a conversation exactly as the HF chat template does,
refereed by Go's text/template (the engine Ollama renders TEMPLATE with)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from loralab.export.merge import render_chat
from loralab.export.modelfile import ModelfileParts, derive_template, render_modelfile

GO_PROGRAM = Path(__file__).with_name("render_template.go")

CONVERSATIONS = [
    [
        {"role": "system", "content": "You rewrite sentences."},
        {"role": "user", "content": "Hello there!\nTwo lines."},
        {"role": "assistant", "content": "Hi. How can I help?"},
        {"role": "user", "content": "Say it backwards: a b c"},
    ],
    [{"role": "user", "content": "What is the capital of France?"}],
]


@pytest.fixture(scope="session")
def go() -> str:
    """The ``go`` command (Debian's golang-go; ``make export-deps`` installs it)."""
    found = shutil.which("go")
    if found is None:
        pytest.fail("Go is needed to referee the Modelfile: run `make export-deps`")
    return found


def go_render(go: str, template: str, messages: list[dict[str, str]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    data = {
        "System": system,
        "Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages],
    }
    proc = subprocess.run(
        [go, "run", str(GO_PROGRAM)],
        input=json.dumps({"template": template, "data": data}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("model", ["tiny_model", "smollm2"])
def test_modelfile_template_renders_like_the_hf_chat_template(request, go, model):
    tokenizer = AutoTokenizer.from_pretrained(request.getfixturevalue(model))
    template, note = derive_template(lambda m, gen: render_chat(tokenizer, m, gen))
    assert template is not None, note
    # SmolLM2's template adds a default system prompt when none is given; the tiny one does not.
    assert ("default system prompt" in note) == (model == "smollm2")
    for messages in CONVERSATIONS:
        assert go_render(go, template, messages) == render_chat(tokenizer, messages, True)


def test_modelfile_names_the_gguf_stops_and_system_prompt():
    text = render_modelfile(
        ModelfileParts(
            gguf_name="tiny-q4_k_m.gguf",
            template="{{ .Prompt }}",
            stops=["<|im_end|>", "<|im_start|>"],
            system="Be brief.",
            note="ChatML",
        )
    )
    lines = text.splitlines()
    assert "FROM ./gguf/tiny-q4_k_m.gguf" in lines
    assert 'TEMPLATE """{{ .Prompt }}"""' in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines and 'PARAMETER stop "<|im_start|>"' in lines
    assert 'SYSTEM """Be brief."""' in lines


def test_a_template_that_is_not_chatml_gets_no_go_template():
    def llama2(messages, gen):
        return "".join(f"[INST] {m['content']} [/INST]" for m in messages)

    template, note = derive_template(llama2)
    assert template is None and "not ChatML" in note
