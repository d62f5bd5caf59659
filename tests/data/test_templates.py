"""Chat templates rendered without transformers, trained spans, and assistant token masks.

transformers is the reference here: the renderings, token ids and masks must equal what
``apply_chat_template`` gives, since the training engineer builds SFT inputs from them.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from loralab.data import (
    DEFAULT_CHAT_TEMPLATE,
    ChatTemplate,
    convert_row,
    count_tokens,
    load_chat_template,
    load_light_tokenizer,
    render_chat,
    render_with_spans,
    tokenize_many_as_arrays,
    tokenize_many_with_mask,
    tokenize_with_mask,
)
from loralab.errors import DataError, ModelError

# Shapes of widely used templates (abridged from the models' tokenizer_config.json files).
LLAMA3 = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + system_message + '<|eot_id|>' }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)
GEMMA = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)
QWEN25 = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first)"
    " or (message.role == 'assistant') %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Like Qwen3: the reasoning of earlier assistant turns is dropped, so a turn renders differently
# once later turns follow it.
THINKING = (
    "{%- set ns = namespace(last=-1) %}"
    "{%- for m in messages %}{%- if m.role == 'assistant' %}{%- set ns.last = loop.index0 %}"
    "{%- endif %}{%- endfor %}"
    "{%- for m in messages %}"
    "{%- set content = m.content %}"
    "{%- if m.role == 'assistant' and loop.index0 < ns.last and '</think>' in content %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{{- '<|im_start|>' + m.role + '\\n' + content + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}
END = {
    "llama3": "<|eot_id|>",
    "mistral": "</s>",
    "gemma": "<end_of_turn>",
    "qwen25": "<|im_end|>",
    "chatml": "<|im_end|>",
}
TEMPLATES = {
    "llama3": LLAMA3,
    "mistral": MISTRAL,
    "gemma": GEMMA,
    "qwen25": QWEN25,
    "chatml": DEFAULT_CHAT_TEMPLATE,
}

CHAT = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "  4, of course.\n"},
    {"role": "user", "content": 'And <b>3+3</b> & "quotes"?'},
    {"role": "assistant", "content": "6"},
]


def _reference_render(template: str, messages, **kwargs) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template([messages], chat_template=template, **TOKENS, **kwargs)
    return rendered[0]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_rendering_matches_transformers(name, add_generation_prompt):
    template = ChatTemplate(TEMPLATES[name], TOKENS)
    messages = CHAT if name == "mistral" else [{"role": "system", "content": "Be kind."}, *CHAT]
    ours = render_chat(template, messages, add_generation_prompt=add_generation_prompt)
    assert ours == _reference_render(
        TEMPLATES[name], messages, add_generation_prompt=add_generation_prompt
    )


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_spans_cover_each_assistant_content_and_its_end_marker(name):
    template = ChatTemplate(TEMPLATES[name], TOKENS)
    text, spans = render_with_spans(template, CHAT)
    assert text == render_chat(template, CHAT)
    trimmed = name in ("llama3", "gemma")  # these templates trim the content
    expected = []
    for message in CHAT[1::2]:
        content = message["content"].strip() if trimmed else message["content"]
        expected.append(content + END[name])
    assert [text[a:b] for a, b in spans] == expected


def test_spans_survive_templates_that_rewrite_earlier_turns():
    chat = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
        {"role": "user", "content": "3+3?"},
        {"role": "assistant", "content": "<think>\nagain\n</think>\n\n6"},
    ]
    text, spans = render_with_spans(THINKING, chat)
    assert text == _reference_render(THINKING, chat)
    assert [text[a:b] for a, b in spans] == [
        "4<|im_end|>",
        "<think>\nagain\n</think>\n\n6<|im_end|>",
    ]


def test_generation_blocks_give_the_spans_and_match_the_prefix_method():
    tagged = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' }}"
        "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] + '<|im_end|>' }}"
        "{% endgeneration %}{{ '\\n' }}{% else %}{{ m['content'] + '<|im_end|>\\n' }}{% endif %}"
        "{% endfor %}"
    )
    by_tags = render_with_spans(tagged, CHAT)
    by_prefix = render_with_spans(DEFAULT_CHAT_TEMPLATE, CHAT)
    assert by_tags == by_prefix
    assert "\ue000" not in render_chat(tagged, CHAT)


def test_train_from_message_skips_earlier_assistant_turns():
    text, spans = render_with_spans(DEFAULT_CHAT_TEMPLATE, CHAT, train_from_message=2)
    assert [text[a:b] for a, b in spans] == ["6<|im_end|>"]


def test_template_exceptions_are_data_errors():
    with pytest.raises(DataError) as info:
        render_chat(MISTRAL, [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    assert info.value.code == "template_error"


def test_sandbox_blocks_python_internals():
    with pytest.raises(DataError):
        render_chat("{{ messages.__class__.__mro__ }}", CHAT)


def test_tojson_does_not_escape_html():
    assert render_chat("{{ messages[0] | tojson }}", [{"role": "user", "content": "<b>&"}]) == (
        '{"role": "user", "content": "<b>&"}'
    )


def test_bad_template_syntax_is_a_model_error():
    with pytest.raises(ModelError):
        render_chat("{% for m in messages %}", CHAT)


# --- with the tiny model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_chats(formats_dir):
    rows = []
    with (formats_dir / "finetome_sample.jsonl").open() as f:
        for line in list(f)[:40]:
            rows.append(
                convert_row(json.loads(line), "conversations", {"conversations": "conversations"})
            )
    return [r["messages"] for r in rows]


def test_tiny_model_template_and_tokenizer_load_without_transformers(tiny_model):
    template = load_chat_template(tiny_model)
    assert template.origin.endswith("chat_template.jinja")
    assert template.special_tokens.get("eos_token") == "<|im_end|>"
    tokenizer = load_light_tokenizer(tiny_model)
    assert tokenizer.token_to_id("<|im_end|>") is not None


def test_template_from_tokenizer_config_is_read(tiny_model, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    config = json.loads((tiny_model / "tokenizer_config.json").read_text())
    config["chat_template"] = [{"name": "default", "template": DEFAULT_CHAT_TEMPLATE}]
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    assert load_chat_template(folder).source == DEFAULT_CHAT_TEMPLATE
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError):
        load_chat_template(empty)
    with pytest.raises(ModelError):
        load_light_tokenizer(empty)


def test_masks_equal_transformers_assistant_masks(tiny_model, tiny_chats):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(tiny_model)
    light = load_light_tokenizer(tiny_model)
    template = load_chat_template(tiny_model)
    for messages in tiny_chats:
        reference = hf.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        assert render_chat(template, messages) == hf.apply_chat_template(messages, tokenize=False)
        text, spans = render_with_spans(template, messages)
        for tokenizer in (light, hf):
            ids, mask = tokenize_with_mask(tokenizer, text, spans)
            assert ids == list(reference["input_ids"])
            assert mask == list(reference["assistant_masks"])


def test_arrays_equal_lists_and_a_padded_backend_falls_back_to_transformers(tiny_model, tiny_chats):
    # Training encodes with the tokenizers.Tokenizer under a transformers tokenizer; one that
    # pads or truncates by itself would not encode as transformers does, so transformers does.
    from transformers import AutoTokenizer

    template = load_chat_template(tiny_model)
    rendered = [render_with_spans(template, m) for m in tiny_chats]
    texts, spans = [t for t, _ in rendered], [s for _, s in rendered]
    hf = AutoTokenizer.from_pretrained(tiny_model)
    expected = tokenize_many_with_mask(load_light_tokenizer(tiny_model), texts, spans)
    padded = AutoTokenizer.from_pretrained(tiny_model)
    padded.backend_tokenizer.enable_padding(length=4096, pad_id=0)
    for tokenizer in (hf, padded):
        assert tokenize_many_with_mask(tokenizer, texts, spans) == expected
        arrays = tokenize_many_as_arrays(tokenizer, texts, spans)
        assert [(ids.tolist(), mask.astype(int).tolist()) for ids, mask in arrays] == expected
        assert all(ids.dtype == np.int64 and mask.dtype == bool for ids, mask in arrays)
    assert max(len(ids) for ids, _ in expected) < 4096


def test_masked_tokens_decode_to_the_assistant_contents(tiny_model, tiny_chats):
    light = load_light_tokenizer(tiny_model)
    template = load_chat_template(tiny_model)
    # The same template without {% generation %}: spans come from rendering prefixes.
    plain = ChatTemplate(
        template.source.replace("{% generation %}", "").replace("{% endgeneration %}", ""),
        template.special_tokens,
    )
    for messages in tiny_chats:
        for tmpl in (template, plain):
            text, spans = render_with_spans(tmpl, messages)
            ids, mask = tokenize_with_mask(light, text, spans)
            runs, current = [], []
            for token, trained in zip(ids, mask, strict=True):
                if trained:
                    current.append(token)
                elif current:
                    runs.append(current)
                    current = []
            if current:
                runs.append(current)
            decoded = [light.decode(run, skip_special_tokens=False) for run in runs]
            expected = [m["content"] + "<|im_end|>" for m in messages if m["role"] == "assistant"]
            assert decoded == expected


def test_truncation_cuts_ids_and_mask_together(tiny_model, tiny_chats):
    light = load_light_tokenizer(tiny_model)
    text, spans = render_with_spans(load_chat_template(tiny_model), tiny_chats[0])
    full_ids, full_mask = tokenize_with_mask(light, text, spans)
    ids, mask = tokenize_with_mask(light, text, spans, max_length=10)
    assert (ids, mask) == (full_ids[:10], full_mask[:10])
    assert count_tokens(light, [text]) == [len(full_ids)]


def test_light_tokenizer_ids_equal_the_transformers_tokenizer(tiny_model, tiny_chats):
    # The server counts tokens with tokenizer.json alone; training uses AutoTokenizer.
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(tiny_model)
    light = load_light_tokenizer(tiny_model)
    template = load_chat_template(tiny_model)
    texts = [render_chat(template, m) for m in tiny_chats]
    assert count_tokens(light, texts) == count_tokens(hf, texts)


def test_copied_model_folder_without_jinja_uses_tokenizer_config(tiny_model, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(tiny_model, folder)
    source = (folder / "chat_template.jinja").read_text()
    (folder / "chat_template.jinja").unlink()
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = source
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    assert load_chat_template(folder).source == source
