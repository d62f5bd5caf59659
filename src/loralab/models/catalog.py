"""The model catalog: open models people fine-tune, with the numbers needed to plan a run.

Sizes are from each model's published ``config.json`` and model card (hub ids as of 2026). The
parameter count is the published one; ``ArchDims.count_parameters`` reproduces it within a few
per cent, which the tests check, so a typo in a dimension shows up.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loralab.errors import NotFound
from loralab.models.arch import ArchDims

__all__ = ["CatalogEntry", "find_entry", "list_catalog", "list_families"]

STANDARD_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Phi-3 and Phi-4-mini fuse q/k/v and gate/up into single linear layers.
PHI3_TARGETS = ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")


class CatalogEntry(BaseModel):
    """One model on the hub, instruct or base."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Hugging Face hub id.")
    name: str = Field(description="Display name.")
    family: str = Field(description="qwen3, qwen2.5, llama, mistral, phi, gemma or smollm2.")
    size: str = Field(description="Size label as published, e.g. 0.5B.")
    parameters: int = Field(description="Published parameter count.")
    kind: Literal["instruct", "base"]
    context_length: int = Field(description="Native context window in tokens.")
    license: str = Field(description="SPDX id or the model's own licence name.")
    gated: bool = Field(description="The hub asks you to accept the licence before download.")
    dims: ArchDims
    target_modules: tuple[str, ...] = Field(description="Default LoRA targets (all linear).")
    base_id: str | None = Field(default=None, description="The base model of an instruct model.")


def _dims(
    model_type: str,
    hidden: int,
    layers: int,
    intermediate: int,
    heads: int,
    kv_heads: int,
    vocab: int,
    *,
    tie: bool,
    head_dim: int | None = None,
    bias: bool = False,
) -> ArchDims:
    return ArchDims(
        model_type=model_type,
        hidden_size=hidden,
        num_layers=layers,
        intermediate_size=intermediate,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim or hidden // heads,
        vocab_size=vocab,
        tie_embeddings=tie,
        attention_bias=bias,
    )


def _pair(
    instruct_id: str,
    base_id: str | None,
    *,
    name: str,
    family: str,
    size: str,
    parameters: float,
    context: int,
    license: str,
    gated: bool,
    dims: ArchDims,
    targets: tuple[str, ...] = STANDARD_TARGETS,
) -> list[CatalogEntry]:
    common = dict(
        family=family,
        size=size,
        parameters=int(parameters),
        context_length=context,
        license=license,
        gated=gated,
        dims=dims,
        target_modules=targets,
    )
    out = [
        CatalogEntry(
            id=instruct_id, name=f"{name} Instruct", kind="instruct", base_id=base_id, **common
        )
    ]
    if base_id:
        out.append(CatalogEntry(id=base_id, name=f"{name} Base", kind="base", **common))
    return out


# fmt: off
# One call per model size keeps each size's numbers on two or three lines, easy to check.
def _build() -> list[CatalogEntry]:
    q3, q25, ll, mi, ph, ge, sm = "qwen3", "qwen2.5", "llama", "mistral", "phi", "gemma", "smollm2"
    entries: list[CatalogEntry] = []
    add = entries.extend
    # Qwen3: hybrid thinking models; the id without -Base is the post-trained (instruct) one.
    qwen3 = dict(family=q3, context=32768, license="apache-2.0", gated=False)
    add(_pair("Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B-Base", name="Qwen3 0.6B", size="0.6B",
              parameters=0.6e9, dims=_dims("qwen3", 1024, 28, 3072, 16, 8, 151936, tie=True,
                                            head_dim=128), **qwen3))
    add(_pair("Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B-Base", name="Qwen3 1.7B", size="1.7B",
              parameters=1.7e9, dims=_dims("qwen3", 2048, 28, 6144, 16, 8, 151936, tie=True,
                                            head_dim=128), **qwen3))
    add(_pair("Qwen/Qwen3-4B", "Qwen/Qwen3-4B-Base", name="Qwen3 4B", size="4B",
              parameters=4.0e9, dims=_dims("qwen3", 2560, 36, 9728, 32, 8, 151936, tie=True,
                                            head_dim=128), **qwen3))
    add(_pair("Qwen/Qwen3-8B", "Qwen/Qwen3-8B-Base", name="Qwen3 8B", size="8B",
              parameters=8.2e9, dims=_dims("qwen3", 4096, 36, 12288, 32, 8, 151936, tie=False,
                                            head_dim=128), **qwen3))
    add(_pair("Qwen/Qwen3-14B", "Qwen/Qwen3-14B-Base", name="Qwen3 14B", size="14B",
              parameters=14.8e9, dims=_dims("qwen3", 5120, 40, 17408, 40, 8, 151936, tie=False,
                                             head_dim=128), **qwen3))
    # Qwen2.5: q/k/v carry biases. The 3B has its own research licence.
    qwen25 = dict(family=q25, context=32768, gated=False)
    add(_pair("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B", name="Qwen2.5 0.5B", size="0.5B",
              parameters=0.49e9, license="apache-2.0", **qwen25,
              dims=_dims("qwen2", 896, 24, 4864, 14, 2, 151936, tie=True, bias=True)))
    add(_pair("Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B", name="Qwen2.5 1.5B", size="1.5B",
              parameters=1.54e9, license="apache-2.0", **qwen25,
              dims=_dims("qwen2", 1536, 28, 8960, 12, 2, 151936, tie=True, bias=True)))
    add(_pair("Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-3B", name="Qwen2.5 3B", size="3B",
              parameters=3.09e9, license="qwen-research", **qwen25,
              dims=_dims("qwen2", 2048, 36, 11008, 16, 2, 151936,
                         tie=True, bias=True)))
    add(_pair("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B", name="Qwen2.5 7B", size="7B",
              parameters=7.61e9, license="apache-2.0", **qwen25,
              dims=_dims("qwen2", 3584, 28, 18944, 28, 4, 152064,
                         tie=False, bias=True)))
    add(_pair("Qwen/Qwen2.5-14B-Instruct", "Qwen/Qwen2.5-14B", name="Qwen2.5 14B", size="14B",
              parameters=14.7e9, license="apache-2.0", **qwen25,
              dims=_dims("qwen2", 5120, 48, 13824, 40, 8, 152064,
                         tie=False, bias=True)))
    # Llama 3.2 (small, tied embeddings) and 3.1 8B; gated behind Meta's licence.
    llama = dict(family=ll, context=131072, gated=True)
    add(_pair("meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B", name="Llama 3.2 1B",
              size="1B", parameters=1.23e9, license="llama3.2", **llama,
              dims=_dims("llama", 2048, 16, 8192, 32, 8, 128256, tie=True)))
    add(_pair("meta-llama/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B", name="Llama 3.2 3B",
              size="3B", parameters=3.21e9, license="llama3.2", **llama,
              dims=_dims("llama", 3072, 28, 8192, 24, 8, 128256, tie=True)))
    add(_pair("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B", name="Llama 3.1 8B",
              size="8B", parameters=8.03e9, license="llama3.1", **llama,
              dims=_dims("llama", 4096, 32, 14336, 32, 8, 128256, tie=False)))
    # Mistral: the hub asks for contact details before download.
    mistral = dict(family=mi, license="apache-2.0", gated=True)
    add(_pair("mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-v0.3",
              name="Mistral 7B v0.3", size="7B", parameters=7.25e9, context=32768, **mistral,
              dims=_dims("mistral", 4096, 32, 14336, 32, 8, 32768, tie=False)))
    add(_pair("mistralai/Mistral-Nemo-Instruct-2407", "mistralai/Mistral-Nemo-Base-2407",
              name="Mistral Nemo 12B", size="12B", parameters=12.2e9, context=131072, **mistral,
              dims=_dims("mistral", 5120, 40, 14336, 32, 8, 131072, tie=False,
                         head_dim=128)))
    # Phi: instruct only; fused qkv_proj / gate_up_proj.
    phi = dict(family=ph, context=131072, license="mit", gated=False, targets=PHI3_TARGETS)
    add(_pair("microsoft/Phi-3.5-mini-instruct", None, name="Phi-3.5 mini", size="3.8B",
              parameters=3.82e9, **phi,
              dims=_dims("phi3", 3072, 32, 8192, 32, 32, 32064, tie=False)))
    add(_pair("microsoft/Phi-4-mini-instruct", None, name="Phi-4 mini", size="3.8B",
              parameters=3.84e9, **phi,
              dims=_dims("phi3", 3072, 32, 8192, 24, 8, 200064, tie=True)))
    # Gemma 2 and 3 (text-only sizes); gated behind Google's licence. head_dim is 256.
    gemma = dict(family=ge, license="gemma", gated=True)
    add(_pair("google/gemma-3-270m-it", "google/gemma-3-270m", name="Gemma 3 270M", size="270M",
              parameters=0.268e9, context=32768, **gemma,
              dims=_dims("gemma3_text", 640, 18, 2048, 4, 1, 262144, tie=True,
                         head_dim=256)))
    add(_pair("google/gemma-3-1b-it", "google/gemma-3-1b-pt", name="Gemma 3 1B", size="1B",
              parameters=1.0e9, context=32768, **gemma,
              dims=_dims("gemma3_text", 1152, 26, 6912, 4, 1, 262144, tie=True,
                         head_dim=256)))
    add(_pair("google/gemma-2-2b-it", "google/gemma-2-2b", name="Gemma 2 2B", size="2B",
              parameters=2.61e9, context=8192, **gemma,
              dims=_dims("gemma2", 2304, 26, 9216, 8, 4, 256000, tie=True,
                         head_dim=256)))
    add(_pair("google/gemma-2-9b-it", "google/gemma-2-9b", name="Gemma 2 9B", size="9B",
              parameters=9.24e9, context=8192, **gemma,
              dims=_dims("gemma2", 3584, 42, 14336, 16, 8, 256000, tie=True,
                         head_dim=256)))
    # SmolLM2: Llama architecture, small enough to fine-tune on a CPU.
    smol = dict(family=sm, context=8192, license="apache-2.0", gated=False)
    add(_pair("HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M",
              name="SmolLM2 135M", size="135M", parameters=0.135e9, **smol,
              dims=_dims("llama", 576, 30, 1536, 9, 3, 49152, tie=True)))
    add(_pair("HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M",
              name="SmolLM2 360M", size="360M", parameters=0.362e9, **smol,
              dims=_dims("llama", 960, 32, 2560, 15, 5, 49152, tie=True)))
    add(_pair("HuggingFaceTB/SmolLM2-1.7B-Instruct", "HuggingFaceTB/SmolLM2-1.7B",
              name="SmolLM2 1.7B", size="1.7B", parameters=1.71e9, **smol,
              dims=_dims("llama", 2048, 24, 8192, 32, 32, 49152, tie=True)))
    return entries
# fmt: on


_CATALOG: tuple[CatalogEntry, ...] = tuple(_build())
_BY_ID = {e.id.lower(): e for e in _CATALOG}


def list_families() -> list[str]:
    """The family names, in catalog order."""
    return list(dict.fromkeys(e.family for e in _CATALOG))


def list_catalog(family: str | None = None) -> list[CatalogEntry]:
    """Catalog entries, smallest first within each family, optionally for one family.

    Args:
        family: a family name (case-insensitive), e.g. ``qwen2.5``; None for all.

    Raises:
        NotFound: the family is not in the catalog.
    """
    if family is None:
        return list(_CATALOG)
    wanted = family.strip().lower()
    found = [e for e in _CATALOG if e.family == wanted]
    if not found:
        raise NotFound(
            f"No model family '{family}' in the catalog.",
            fix=f"Families are: {', '.join(list_families())}.",
        )
    return found


def find_entry(model_id: str) -> CatalogEntry | None:
    """The catalog entry for a hub id (case-insensitive), or None when it is not listed."""
    return _BY_ID.get(model_id.strip().lower())
