"""Architecture dimensions of a decoder-only transformer, read without torch or transformers.

The memory estimator and the catalog share ``ArchDims``. For a local model folder (or one in
the Hugging Face cache) the numbers come from ``config.json`` read as plain JSON, so this works
in the server process and for the tiny test models alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loralab.errors import ModelError

__all__ = [
    "ArchDims",
    "LinearShape",
    "describe_model_folder",
    "dims_from_config",
    "read_arch_dims",
]

# Model types whose attention and MLP projections are fused (Phi-3 family).
_FUSED_QKV = {"phi3", "phimoe"}


class LinearShape(BaseModel):
    """One linear layer inside each decoder block: its name and (in, out) features."""

    model_config = ConfigDict(frozen=True)

    name: str
    in_features: int
    out_features: int
    bias: bool = False


class ArchDims(BaseModel):
    """The sizes that decide parameter count and memory use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_type: str = Field(description="The transformers model_type, e.g. qwen2, llama, phi3.")
    hidden_size: int = Field(gt=0)
    num_layers: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    num_heads: int = Field(gt=0)
    num_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0, description="Per-head width; not always hidden / heads.")
    vocab_size: int = Field(gt=0)
    tie_embeddings: bool = False
    attention_bias: bool = Field(default=False, description="q/k/v carry biases (Qwen2).")

    @property
    def fused_projections(self) -> bool:
        """Phi-3 style ``qkv_proj`` and ``gate_up_proj`` instead of separate layers."""
        return self.model_type in _FUSED_QKV

    def linear_layers(self) -> list[LinearShape]:
        """The linear layers of one decoder block, by the module names PEFT targets."""
        h, i = self.hidden_size, self.intermediate_size
        q_out = self.num_heads * self.head_dim
        kv_out = self.num_kv_heads * self.head_dim
        bias = self.attention_bias
        if self.fused_projections:
            return [
                LinearShape(name="qkv_proj", in_features=h, out_features=q_out + 2 * kv_out),
                LinearShape(name="o_proj", in_features=q_out, out_features=h),
                LinearShape(name="gate_up_proj", in_features=h, out_features=2 * i),
                LinearShape(name="down_proj", in_features=i, out_features=h),
            ]
        return [
            LinearShape(name="q_proj", in_features=h, out_features=q_out, bias=bias),
            LinearShape(name="k_proj", in_features=h, out_features=kv_out, bias=bias),
            LinearShape(name="v_proj", in_features=h, out_features=kv_out, bias=bias),
            LinearShape(name="o_proj", in_features=q_out, out_features=h),
            LinearShape(name="gate_proj", in_features=h, out_features=i),
            LinearShape(name="up_proj", in_features=h, out_features=i),
            LinearShape(name="down_proj", in_features=i, out_features=h),
        ]

    def linear_parameters(self) -> int:
        """Parameters in the decoder blocks' linear layers (what 4/8-bit quantizes)."""
        per_layer = sum(
            s.in_features * s.out_features + (s.out_features if s.bias else 0)
            for s in self.linear_layers()
        )
        return per_layer * self.num_layers

    def embedding_parameters(self) -> int:
        """Input embeddings plus the output head when it is not tied."""
        one = self.vocab_size * self.hidden_size
        return one if self.tie_embeddings else 2 * one

    def count_parameters(self) -> int:
        """All parameters: embeddings, linear layers and RMSNorm weights (2 per block + final).

        Architecture extras (Gemma's extra norms, Qwen3's q/k norms) are a few thousand
        parameters and left out.
        """
        norms = (2 * self.num_layers + 1) * self.hidden_size
        return self.embedding_parameters() + self.linear_parameters() + norms


def _text_config(raw: dict[str, Any]) -> dict[str, Any]:
    # Multimodal configs (Gemma 3 4B+, Llama 3.2 Vision, Qwen2.5-VL) nest the language model.
    text = raw.get("text_config")
    if isinstance(text, dict) and "hidden_size" in text:
        merged = dict(text)
        merged.setdefault("model_type", raw.get("model_type", "unknown"))
        merged.setdefault("tie_word_embeddings", raw.get("tie_word_embeddings", False))
        return merged
    return raw


def dims_from_config(raw: dict[str, Any], *, source: str = "config.json") -> ArchDims:
    """``ArchDims`` from a transformers ``config.json`` dict.

    Raises:
        ModelError: a size the estimate needs is missing.
    """
    cfg = _text_config(raw)
    missing = [
        key
        for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
        if not isinstance(cfg.get(key), int)
    ]
    if missing:
        raise ModelError(
            f"{source} lacks {', '.join(missing)}, so its size cannot be worked out.",
            fix="Use a decoder-only causal LM (Llama, Qwen, Mistral, Phi, Gemma, SmolLM).",
        )
    heads = cfg["num_attention_heads"]
    hidden = cfg["hidden_size"]
    return ArchDims(
        model_type=str(cfg.get("model_type", "unknown")),
        hidden_size=hidden,
        num_layers=cfg["num_hidden_layers"],
        intermediate_size=cfg.get("intermediate_size") or 4 * hidden,
        num_heads=heads,
        num_kv_heads=cfg.get("num_key_value_heads") or heads,
        head_dim=cfg.get("head_dim") or hidden // heads,
        vocab_size=cfg["vocab_size"],
        # transformers defaults tie_word_embeddings to True when the key is absent.
        tie_embeddings=bool(cfg.get("tie_word_embeddings", True)),
        attention_bias=bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2")),
    )


def read_arch_dims(folder: str | Path) -> ArchDims:
    """Read ``folder/config.json`` (a local model folder or a cache snapshot) as ``ArchDims``.

    Raises:
        ModelError: no readable config.json, or it lacks the sizes.
    """
    path = Path(folder).expanduser() / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{path.parent} is not a model folder: it has no config.json.",
            fix="Point to the folder that save_pretrained wrote (with config.json and weights).",
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} cannot be read: {exc}.") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path} does not hold a JSON object.")
    return dims_from_config(raw, source=str(path))


def describe_model_folder(folder: Path) -> dict[str, Any]:
    """What a model folder holds: ``{model_type, parameters, weights_bytes, has_weights,
    has_tokenizer, has_chat_template}``, read as JSON and file sizes.

    Raises:
        ModelError: config.json is missing or lacks the sizes, or the folder cannot be listed.
    """
    dims = read_arch_dims(folder)
    try:
        weights = [
            p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin")
        ]
    except OSError as exc:
        raise ModelError(f"{folder} cannot be listed: {exc.strerror or exc}.") from None
    has_template = (folder / "chat_template.jinja").is_file()
    if not has_template and (folder / "tokenizer_config.json").is_file():
        try:
            cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
            has_template = bool(isinstance(cfg, dict) and cfg.get("chat_template"))
        except (OSError, ValueError):
            pass
    return {
        "model_type": dims.model_type,
        "parameters": dims.count_parameters(),
        "weights_bytes": sum(p.stat().st_size for p in weights),
        "has_weights": bool(weights),
        "has_tokenizer": (folder / "tokenizer.json").is_file(),
        "has_chat_template": has_template,
    }
