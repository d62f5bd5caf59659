"""Export: adapter, merged weights, GGUF through llama.cpp's converter, Ollama Modelfile, parity check.

Importing this package never imports torch: the formats, tool checks and size estimates are
what the server uses; ``run_export`` (the worker's recipe) imports the ML stack when called.
"""

from loralab.export.estimate import estimate_export, folder_bytes, free_disk_bytes
from loralab.export.formats import (
    CONVERTER_PIN,
    FORMATS,
    GGUF_ENABLE_FIX,
    QUANTIZATIONS,
    Quantization,
    ToolStatus,
    converter_dir,
    gguf_size_bytes,
    tool_status,
)
from loralab.export.run import PARITY_FILE, ExportPlan, run_export

__all__ = [
    "CONVERTER_PIN",
    "FORMATS",
    "GGUF_ENABLE_FIX",
    "PARITY_FILE",
    "QUANTIZATIONS",
    "ExportPlan",
    "Quantization",
    "ToolStatus",
    "converter_dir",
    "estimate_export",
    "folder_bytes",
    "free_disk_bytes",
    "gguf_size_bytes",
    "run_export",
    "tool_status",
]
