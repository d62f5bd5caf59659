"""Build a tiny, randomly initialised causal LM offline, for tests and demos.

The model uses a real architecture config (Qwen2 or Llama) at toy size, and a byte-level BPE
tokenizer trained in a fraction of a second on the built-in corpus, with ChatML special tokens
and a chat template. The result is an ordinary Hugging Face model folder: ``from_pretrained``
loads it with ``HF_HUB_OFFLINE=1``, and ``tokenizer.json`` loads with plain ``tokenizers``.

torch and transformers are imported inside the function so ``import loralab.models`` stays
light for the server process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from loralab.errors import ModelError
from loralab.models.tiny_corpus import tiny_corpus

__all__ = ["CHATML_TEMPLATE", "TINY_ARCHS", "make_tiny_model"]

TINY_ARCHS = ("qwen2", "llama")

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END]

# Qwen2's own pre-tokenizer split (transformers/models/qwen2/tokenization_qwen2.py). AutoTokenizer
# rebuilds a qwen2 tokenizer with this pattern whatever tokenizer.json says (transformers 5.23),
# so training with any other pattern changes the ids after a reload. Llama uses it too, so both
# tiny models tokenize alike.
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# ChatML. The {% generation %} block marks assistant tokens for
# ``apply_chat_template(..., return_assistant_tokens_mask=True)``; it includes <|im_end|> so the
# model learns to stop.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_VOCAB_SIZE = 4096
_MAX_POSITIONS = 4096


def _strip_specials(text: str) -> str:
    for token in SPECIAL_TOKENS:
        text = text.replace(token, "")
    return text


def _train_tokenizer(seed: int):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on the built-in corpus."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    # Same normalizer and pre-tokenizer as transformers' Qwen2Tokenizer (see PRETOKENIZE_REGEX).
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        # The full byte alphabet, so any text encodes without an unknown token.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The trainer does not split added tokens out of the text, so strip the chat markup from the
    # corpus; otherwise pieces like "<|im_" waste merges.
    docs = (_strip_specials(doc) for doc in tiny_corpus(seed=seed))
    tok.train_from_iterator(docs, trainer=trainer)
    return tok


def _model_config(arch: str, vocab_size: int, pad_id: int, eos_id: int):
    from transformers import LlamaConfig, Qwen2Config

    # Widths are multiples of 256 so GGUF K-quants (256-wide super-blocks) apply later.
    common = dict(
        vocab_size=vocab_size,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=_MAX_POSITIONS,
        rms_norm_eps=1e-6,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        use_cache=True,
    )
    if arch == "qwen2":
        # Small Qwen2.5 models tie the input and output embeddings; q/k/v carry biases.
        return Qwen2Config(**common, tie_word_embeddings=True)
    # Llama 3.1-style: separate lm_head, no attention biases.
    return LlamaConfig(**common, tie_word_embeddings=False, attention_bias=False)


def make_tiny_model(
    out_dir: str | Path, arch: Literal["qwen2", "llama"] = "qwen2", *, seed: int = 0
) -> Path:
    """Build a tiny random-weight model with a trained tokenizer and save it to ``out_dir``.

    Args:
        out_dir: folder to write (created if missing; existing model files are overwritten).
        arch: ``"qwen2"`` (tied embeddings, q/k/v biases) or ``"llama"`` (untied lm_head).
        seed: seeds the corpus and the weights; the global torch RNG is left untouched.

    Returns:
        ``out_dir`` as a Path, holding ``config.json``, ``model.safetensors``,
        ``tokenizer.json``, ``tokenizer_config.json`` and ``chat_template.jinja``.

    Raises:
        ModelError: ``arch`` is not one of ``TINY_ARCHS``.
    """
    if arch not in TINY_ARCHS:
        raise ModelError(
            f"Unknown tiny-model architecture '{arch}'.",
            fix=f"Use one of: {', '.join(TINY_ARCHS)}.",
        )
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    raw_tok = _train_tokenizer(seed)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw_tok,
        pad_token=PAD_TOKEN,
        eos_token=IM_END,
        unk_token=None,
        bos_token=None,
        additional_special_tokens=[IM_START],
        model_max_length=_MAX_POSITIONS,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHATML_TEMPLATE

    pad_id = raw_tok.token_to_id(PAD_TOKEN)
    eos_id = raw_tok.token_to_id(IM_END)
    config = _model_config(arch, raw_tok.get_vocab_size(), pad_id, eos_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=None, eos_token_id=eos_id, pad_token_id=pad_id
    )

    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _write_readme(out, arch, config.vocab_size, sum(p.numel() for p in model.parameters()))
    return out


def _write_readme(out: Path, arch: str, vocab_size: int, n_params: int) -> None:
    meta = {"arch": arch, "vocab_size": vocab_size, "parameters": n_params}
    (out / "README.md").write_text(
        "# Tiny loralab test model\n\n"
        "Random weights and a locally trained BPE tokenizer, built by "
        "`loralab.models.make_tiny_model`. It generates noise; use it for tests only.\n\n"
        f"```json\n{json.dumps(meta, indent=2)}\n```\n",
        encoding="utf-8",
    )
