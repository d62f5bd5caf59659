"""Size estimates of an export, before it runs (torch-free: the server calls it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loralab.diskspace import free_bytes
from loralab.export.formats import QUANTIZATIONS, gguf_size_bytes

__all__ = ["estimate_export", "folder_bytes", "free_disk_bytes"]

_DTYPE_BYTES = {"float16": 2, "bfloat16": 2}
_TOKENIZER_BYTES = 16 * 1024 * 1024  # tokenizer.json of a large vocabulary, config files


def folder_bytes(path: str | Path) -> int:
    """The size of the files under ``path`` (0 when it is gone)."""
    folder = Path(path)
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def free_disk_bytes(path: str | Path) -> int:
    """Free bytes on the disk that holds ``path`` (its nearest existing parent)."""
    return free_bytes(path)


def estimate_export(
    *,
    parameters: int,
    adapter_path: str | Path,
    formats: list[str],
    quantizations: list[str],
    dtype: str = "float16",
) -> dict[str, Any]:
    """Bytes per output and at the peak (temporary merged folder and F16 file included).

    Returns:
        ``{files: [{format, quantization?, size_bytes}], total_bytes, temporary_bytes,
        needed_bytes}``: ``needed_bytes`` is what must be free before the export starts.
    """
    merged = parameters * _DTYPE_BYTES[dtype] + _TOKENIZER_BYTES
    files: list[dict[str, Any]] = []
    temporary = 0
    if "adapter" in formats:
        files.append({"format": "adapter", "size_bytes": folder_bytes(adapter_path)})
    if "merged" in formats:
        files.append({"format": "merged", "size_bytes": merged})
    if "gguf" in formats:
        if "merged" not in formats:
            temporary += merged
        for q in quantizations:
            files.append(
                {"format": "gguf", "quantization": q, "size_bytes": gguf_size_bytes(parameters, q)}
            )
        k_quants = any(QUANTIZATIONS[q].tool == "llama_cpp" for q in quantizations)
        if k_quants and "f16" not in quantizations:
            temporary += gguf_size_bytes(parameters, "f16")
    total = sum(f["size_bytes"] for f in files)
    return {
        "files": files,
        "total_bytes": total,
        "temporary_bytes": temporary,
        "needed_bytes": total + temporary,
    }
