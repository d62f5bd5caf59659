"""Load a base model and its tokenizer from a ``ModelConfig``: local folder or hub id.

The one place that turns our ``ModelConfig`` into ``from_pretrained`` arguments: dtype,
attention kernel, 4/8-bit quantization, remote code, chat template. Errors say what to change.
torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from loralab.config import ModelConfig
from loralab.errors import HubUnavailable, ModelError, Unsupported
from loralab.models.source import ModelSource, hub_is_offline, resolve_source

if TYPE_CHECKING:
    import torch

__all__ = ["load_model_and_tokenizer", "load_tokenizer", "resolve_torch_dtype"]


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_torch_dtype(dtype: str, *, cuda: bool | None = None) -> torch.dtype:
    """The torch dtype for ``ModelConfig.dtype``.

    ``auto`` is bfloat16 on a CUDA GPU that supports it, float16 on older GPUs, float32 on
    CPU (16-bit matmuls on CPU are slow and bf16 autocast there gains nothing for LoRA).
    """
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    cuda = _cuda_available() if cuda is None else cuda
    if not cuda:
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _attn_implementation(wanted: str, cuda: bool, dtype: Any = None) -> str:
    """``auto`` is FlashAttention-2 on CUDA with flash-attn installed and a half-precision
    model (its kernels need bf16/fp16; padding-free batches then use its varlen path), else sdpa.
    """
    if wanted == "auto":
        import torch

        half = dtype in (torch.bfloat16, torch.float16)
        if cuda and half and importlib.util.find_spec("flash_attn") is not None:
            return "flash_attention_2"
        return "sdpa"
    if wanted == "flash_attention_2":
        if not cuda:
            raise Unsupported(
                "flash_attention_2 needs a CUDA GPU; this machine has none.",
                fix="Set model.attn_implementation: auto (sdpa).",
            )
        if importlib.util.find_spec("flash_attn") is None:
            raise Unsupported(
                "flash_attention_2 needs the flash-attn package, which is not installed.",
                fix="pip install flash-attn --no-build-isolation, or set "
                "model.attn_implementation: auto.",
            )
    return wanted


def _quantization_config(quantization: str, cuda: bool, compute_dtype: torch.dtype) -> Any:
    if quantization == "none":
        return None
    if not cuda or importlib.util.find_spec("bitsandbytes") is None:
        label = {"4bit": "4-bit", "8bit": "8-bit"}.get(quantization, quantization)
        has = "none" if not cuda else "a CUDA GPU but no bitsandbytes"
        raise Unsupported(
            f"{label} quantization needs a CUDA GPU and bitsandbytes; this machine has {has} — "
            "set model.quantization: none",
            fix="Set model.quantization: none, or install loralab[gpu] on a CUDA machine.",
        )
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    # QLoRA's recipe: NF4 codes, double-quantised scales, compute in the model dtype.
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def _load_error(exc: Exception, cfg: ModelConfig, source: ModelSource) -> Exception:
    """Turn a from_pretrained failure into an error a person can act on."""
    name = cfg.name_or_path
    text = str(exc)
    kind = type(exc).__name__
    if kind == "GatedRepoError" or "gated repo" in text.lower():
        return ModelError(
            f"{name} is gated: the hub wants you to accept its licence first.",
            fix=f"Accept it at https://huggingface.co/{name} and set HF_TOKEN (or "
            "`huggingface-cli login`).",
        )
    if kind in ("RepositoryNotFoundError", "RevisionNotFoundError") or (
        source.kind == "hub" and "is not a local folder and is not a valid model" in text
    ):
        return ModelError(
            f"{name} was not found on the hub"
            + (f" at revision {cfg.revision}" if cfg.revision else "")
            + ".",
            fix="Check the spelling (ids look like Qwen/Qwen2.5-0.5B-Instruct); a private "
            "repo needs HF_TOKEN.",
        )
    if source.kind == "cached" and (hub_is_offline() or "offline" in text.lower()):
        return HubUnavailable(
            f"model {name} is only partly in the local cache and the hub cannot be reached; "
            "download it first or give a local path",
            fix=f"On a machine with internet: `huggingface-cli download {name}`.",
        )
    if "trust_remote_code" in text:
        return ModelError(
            f"{name} ships its own Python code and needs model.trust_remote_code: true.",
            fix="Set it only if you trust the repository's code.",
        )
    return ModelError(f"{name} could not be loaded: {kind}: {text.splitlines()[0]}")


def load_tokenizer(
    cfg: ModelConfig, *, for_training: bool = True, source: ModelSource | None = None
):
    """Load the tokenizer for ``cfg``, with a pad token and the configured chat template.

    Padding goes on the right for training and on the left for generation.

    Raises:
        ModelError / HubUnavailable: as for ``load_model_and_tokenizer``.
    """
    from transformers import AutoTokenizer

    source = source or resolve_source(cfg.name_or_path, cfg.revision)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source.location if source.kind == "local" else cfg.name_or_path,
            revision=cfg.revision,
            trust_remote_code=cfg.trust_remote_code,
            local_files_only=source.offline_ok and hub_is_offline(),
        )
    except Exception as exc:  # transformers raises OSError/ValueError/hub errors alike
        raise _load_error(exc, cfg, source) from exc
    if cfg.chat_template:
        tokenizer.chat_template = cfg.chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = _pick_pad_token(tokenizer)
    tokenizer.padding_side = "right" if for_training else "left"
    return tokenizer


def _pick_pad_token(tokenizer) -> str:
    # A dedicated pad token when the vocabulary has one (Llama 3 reserves one); otherwise unk,
    # and eos last: with pad == eos, collators that mask pad labels also mask the real eos.
    vocab = tokenizer.get_vocab()
    for candidate in ("<|finetune_right_pad_id|>", "<pad>", "<|pad|>", "[PAD]"):
        if candidate in vocab:
            return candidate
    if tokenizer.unk_token is not None:
        return tokenizer.unk_token
    if tokenizer.eos_token is not None:
        return tokenizer.eos_token
    raise ModelError(
        "The tokenizer has no pad, unk or eos token to pad with.",
        fix="Use a model whose tokenizer defines an eos token.",
    )


def load_model_and_tokenizer(cfg: ModelConfig, *, for_training: bool = True):
    """Load the base model and tokenizer that ``cfg`` names.

    Args:
        cfg: the run's model section (hub id or local folder, dtype, quantization, ...).
        for_training: turn off the KV cache (packed batches must not share it) and pad on the
            right; otherwise put the model in eval mode, on the GPU if there is one, and pad
            on the left for generation.

    Returns:
        ``(model, tokenizer)``. The tokenizer always has a pad token, and the model's config
        and generation config use it.

    Raises:
        ModelError: a missing folder, a folder without config.json, an unknown or gated hub id,
            or any other load failure, with the fix.
        HubUnavailable: a hub id that is not in the local cache while the hub cannot be
            reached (or HF_HUB_OFFLINE is set).
        Unsupported: 4/8-bit without CUDA and bitsandbytes, flash-attention without CUDA.
    """
    source = resolve_source(cfg.name_or_path, cfg.revision)
    import torch
    from transformers import AutoModelForCausalLM

    cuda = _cuda_available()
    dtype = resolve_torch_dtype(cfg.dtype, cuda=cuda)
    kwargs: dict[str, Any] = {
        "dtype": dtype,  # transformers 5: ``torch_dtype`` is deprecated
        "attn_implementation": _attn_implementation(cfg.attn_implementation, cuda, dtype),
        "revision": cfg.revision,
        "trust_remote_code": cfg.trust_remote_code,
        "local_files_only": source.offline_ok and hub_is_offline(),
    }
    quant = _quantization_config(cfg.quantization, cuda, dtype)
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": torch.cuda.current_device()}

    tokenizer = load_tokenizer(cfg, for_training=for_training, source=source)
    location = source.location if source.kind == "local" else cfg.name_or_path
    try:
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except Exception as exc:
        raise _load_error(exc, cfg, source) from exc

    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if for_training:
        model.config.use_cache = False
    else:
        model.eval()
        if cuda and quant is None:
            model.to("cuda")
    return model, tokenizer
