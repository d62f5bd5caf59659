"""Estimate the peak memory of a LoRA run before loading anything. Torch-free.

The estimate adds up, in bytes:

- **weights**: every base parameter at the load dtype; with 4/8-bit loading, the decoder's
  linear layers at about 4.25 / 8.1 bits (NF4 with double-quantised block scales; int8 with
  row scales) and the rest (embeddings, lm_head, norms) at the compute dtype.
- **LoRA weights**: ``r * (in + out)`` per targeted linear layer per block (plus the DoRA
  magnitude vector), and full copies of ``modules_to_save``; PEFT keeps them in float32.
- **gradients**: one float32 value per trainable parameter.
- **optimizer**: AdamW keeps two float32 moments (8 bytes a parameter), the 8-bit variants
  two int8 moments (2 bytes), Adafactor one factored row + column vector per matrix, SGD none.
- **activations**: per token per block, the tensors autograd saves: norm inputs and outputs,
  q/k/v after RoPE, attention output, the MLP's gate/up/act/product (4 x intermediate; 2 with
  SFT's fused layers on float32, ``training/fused_layers.py``), LoRA's rank-r intermediates,
  and dropout copies when dropout > 0. With gradient checkpointing only each block's input is
  kept, plus one block recomputed at a time. Auto checkpointing
  (``train.gradient_checkpointing`` empty) is decided as the run decides it: on only when the
  estimate without it is over 85% of the memory available. The logits and the float32 loss
  over the vocabulary come on top; for big vocabularies they dominate. SFT's chunked loss
  (``train.chunked_loss``, auto on CPU; ``training/chunked_loss.py``) never holds them for the
  whole micro-batch: only one chunk's logits (about 8M values) twice in float32, plus a copy
  of the trained tokens' hidden states and their gradient.
- **overhead**: the runtime (CUDA context, or the Python + torch process on CPU) plus
  allocator slack: 10% of everything on CUDA. On CPU, glibc's malloc keeps freed activation
  buffers mapped (its mmap threshold grows as large blocks are freed), so the process's RSS
  peaks above the live activations (gone with ``MALLOC_MMAP_THRESHOLD_=131072``). How much
  above was measured (``loralab bench estimator``, ``tests/models/test_estimate.py``): 0.1-0.8x
  of the activations, less on the padding-free runs with per-sequence attention (tiny Qwen2
  0.13x, SmolLM2-135M 0.33x at 4 x 512; 0.77x on the padded, unchunked run of the test). The
  CPU slack is half the activations: the whole estimate is 7-11% above the bench's measured
  peaks, and 0.85x of the test's measured rise; a whole extra copy, as before, over-estimated
  SmolLM2 by 40%.

Tokens per micro-batch are ``batch_size * max_seq_length``: the worst case, when every sample is
truncated at the limit. Each method changes what one micro-batch holds:

- **sft**: ``batch_size`` sequences.
- **dpo, kto**: chosen and rejected (KTO: each completion and a mismatched one for its KL
  term) go through the model together, so twice the sequences. The reference pass is the same
  weights with the adapter switched off: no second copy of the weights, and under no_grad its
  activations are freed layer by layer; only its log-probabilities stay.
- **orpo**: chosen and rejected, no reference pass at all.
- **grpo**: ``batch_size`` prompts with ``num_generations`` answers each, every one up to
  ``max_seq_length`` of prompt plus ``max_completion_length`` of answer, trained on together.
  Before that the answers are generated: a whole generation round (``gradient_accumulation_steps``
  micro-batches) at once, with its KV cache (2 x layers x kv heads x head dim per token) and one
  step's float32 logits. Generation and training do not overlap, so the larger of the two counts. ``tests/models/test_estimate.py`` checks the static parts exactly and
the activations within a factor against a measured LoRA run on the tiny model.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field, computed_field

from loralab.config import RunConfig
from loralab.errors import ModelError
from loralab.models.arch import ArchDims, read_arch_dims
from loralab.models.catalog import find_entry
from loralab.models.hardware import HardwareInfo, detect_hardware
from loralab.models.source import cached_config_path, local_model_dir

__all__ = [
    "MemoryBreakdown",
    "MemoryEstimate",
    "Suggestion",
    "estimate_memory",
    "resolve_dims",
    "tokens_per_micro_batch",
]

GB = 1024**3
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_NF4_BYTES = 4.25 / 8  # 4-bit codes + an 8-bit absmax per 64 + fp32 scale per 256 blocks
_INT8_BYTES = 8.1 / 8
_CUDA_RUNTIME = int(0.8 * GB)  # CUDA context, cuBLAS workspace
_CPU_RUNTIME = int(0.5 * GB)  # measured: python + torch + transformers + peft ~ 350-500 MB
_CPU_SLACK = 0.5  # freed activation buffers glibc keeps mapped, as a share of the activations
_FRAGMENTATION = 0.10
_FITS_SHARE = 0.85  # above this share of the device's memory the run is "tight"
# Logits in one chunk of the chunked loss: training/chunked_loss.py's _CHUNK_ELEMENTS (that
# module needs torch, so it is not imported here; tests/models/test_estimate.py keeps the two
# equal).
_LOSS_CHUNK_ELEMENTS = 2**23

Verdict = Literal["fits", "tight", "wont_fit"]


class MemoryBreakdown(BaseModel):
    """Peak memory by component, in bytes."""

    weights: int
    lora_weights: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return (
            self.weights
            + self.lora_weights
            + self.gradients
            + self.optimizer
            + self.activations
            + self.overhead
        )

    def gb(self) -> dict[str, float]:
        """Each component and the total in GiB, rounded to 3 places."""
        return {k: round(v / GB, 3) for k, v in self.model_dump().items()}


class Suggestion(BaseModel):
    """A change that lowers memory, as config overrides, with the total it would give."""

    text: str
    overrides: list[str] = Field(description="`section.field=value`, as for `--set`.")
    total_gb: float


class MemoryEstimate(BaseModel):
    """What a run needs, what the device has, and what to change if it does not fit."""

    model: str
    device: Literal["cuda", "cpu"]
    dtype: str = Field(description="The resolved weight dtype.")
    quantization: str
    parameters: int
    trainable_parameters: int
    tokens_per_micro_batch: int
    gradient_checkpointing: bool = Field(
        description="Whether the estimate recomputes activations: the setting, or what auto "
        "decides (on only when the estimate without it is over 85% of available memory)."
    )
    chunked_loss: bool = Field(
        description="Whether the estimate computes SFT's loss a chunk at a time: the setting, "
        "or auto (on CPU). Other methods always hold the full logits."
    )
    breakdown: MemoryBreakdown
    total_gb: float
    available_gb: float = Field(description="Free GPU memory, or available RAM on CPU.")
    verdict: Verdict
    suggestions: list[Suggestion] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def resolve_dims(name_or_path: str, revision: str | None = None) -> ArchDims:
    """Architecture sizes for a local folder, a catalog model, or a model in the HF cache.

    Raises:
        ModelError: a path that is not a model folder, or a model whose size is unknown here.
    """
    local = local_model_dir(name_or_path)
    if local is not None:
        return read_arch_dims(local)
    entry = find_entry(name_or_path)
    if entry is not None:
        return entry.dims
    config = cached_config_path(name_or_path, revision)
    if config is not None:
        return read_arch_dims(config.parent)
    raise ModelError(
        f"The size of {name_or_path} is unknown: it is not in the catalog, not a local folder "
        "and not in the local Hugging Face cache.",
        fix=f"Pick a catalog model (`loralab models list`), give a local folder, or fetch its "
        f"config first: `huggingface-cli download {name_or_path} config.json`.",
    )


def _resolve_dtype(config: RunConfig, hardware: HardwareInfo) -> str:
    wanted = config.model.dtype
    if wanted != "auto":
        return wanted
    if hardware.device == "cuda":
        bf16 = bool(hardware.gpus) and hardware.gpus[0].supports_bf16
        return "bfloat16" if bf16 else "float16"
    return "float32"


def _trainable_matrices(config: RunConfig, dims: ArchDims) -> tuple[list[tuple[int, int]], int]:
    """(rows, cols) of every trainable matrix, and extra trainable vector elements (DoRA)."""
    lora = config.lora
    r = lora.r
    linears = {s.name: s for s in dims.linear_layers()}
    wanted = set(linears) if lora.target_modules == "all-linear" else set(lora.target_modules)
    matrices: list[tuple[int, int]] = []
    vectors = 0
    for name in sorted(wanted):
        if name in linears:
            shape = linears[name]
            per_layer = [(r, shape.in_features), (shape.out_features, r)]
            matrices += per_layer * dims.num_layers
            if lora.use_dora:
                vectors += shape.out_features * dims.num_layers
        elif name == "lm_head":
            matrices += [(r, dims.hidden_size), (dims.vocab_size, r)]
        elif name == "embed_tokens":
            matrices += [(r, dims.vocab_size), (dims.hidden_size, r)]
    for name in lora.modules_to_save:
        if name in ("embed_tokens", "lm_head"):
            matrices.append((dims.vocab_size, dims.hidden_size))
    return matrices, vectors


def _optimizer_bytes(optimizer: str, matrices: list[tuple[int, int]], vectors: int) -> int:
    n = sum(a * b for a, b in matrices) + vectors
    if optimizer in ("adamw_torch", "adamw_torch_fused"):
        return 8 * n
    if optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        return 2 * n
    if optimizer == "adafactor":
        # Factored second moment: a row and a column vector per matrix, no first moment.
        return 4 * (sum(a + b for a, b in matrices) + vectors)
    return 0  # sgd without momentum


def _chunked_loss(config: RunConfig, hardware: HardwareInfo) -> bool:
    """Whether the run's loss is chunked (SFT only): ``train.chunked_loss``, or auto, which is on
    on CPU. A model the chunked loss cannot handle keeps TRL's head at run time; the estimator
    cannot tell those apart (that needs the loaded model)."""
    if config.train.method != "sft":
        return False
    setting = getattr(config.train, "chunked_loss", None)
    return setting if setting is not None else hardware.device == "cpu"


def _loss_chunk_tokens(vocab_size: int) -> int:
    """Tokens per chunk of the chunked loss (``chunk_tokens_for`` in training/chunked_loss.py)."""
    return max(16, _LOSS_CHUNK_ELEMENTS // max(1, vocab_size))


def _mlp_saved(config: RunConfig, act_bytes: int) -> int:
    """Intermediate-sized tensors one MLP keeps per token: gate, up, silu(gate) and their
    product; SFT's fused layers (``training/fused_layers.py``, float32 only) keep gate, up and
    the product (``SwiGLU``), or gate and up alone when they also compute the LoRA layers
    (``FusedLoraMLP``: vanilla LoRA without dropout, ``train.fused_lora`` not off)."""
    t = config.train
    if t.method != "sft" or act_bytes != 4 or t.fused_layers is False:
        return 4
    lora = config.lora
    if t.fused_lora is False or lora.dropout or lora.use_dora:
        return 3
    return 2


def _activation_bytes(
    config: RunConfig,
    dims: ArchDims,
    act_bytes: int,
    tokens: int,
    *,
    checkpointing: bool,
    chunked_loss: bool,
) -> int:
    h, i, r = dims.hidden_size, dims.intermediate_size, config.lora.r
    h_q = dims.num_heads * dims.head_dim
    kv = dims.num_kv_heads * dims.head_dim
    n_lora = len(dims.linear_layers())
    # Elements saved per token in one block (see the module docstring). The norms keep float32
    # copies whatever the compute dtype, counted as 2 x hidden at 4 bytes each, twice.
    mlp = _mlp_saved(config, act_bytes) * i
    per_token = (3 * h_q + 2 * kv + mlp + n_lora * r + 2 * h) * act_bytes + 2 * 2 * h * 4
    if config.lora.dropout > 0:
        per_token += (5 * h + h_q + i) * act_bytes + (5 * h + h_q + i)  # copies + bool masks
    if checkpointing:
        blocks = dims.num_layers * h * act_bytes + per_token  # inputs kept + one recomputed
    else:
        blocks = dims.num_layers * per_token
    if chunked_loss:
        # The trained tokens' hidden states gathered, and their gradient, per token; then one
        # chunk's float32 logits and log-softmax (then softmax), plus its 16-bit gradient copy.
        chunk = min(tokens, _loss_chunk_tokens(dims.vocab_size))
        chunk_bytes = chunk * dims.vocab_size * (8 + (act_bytes if act_bytes < 4 else 0))
        return tokens * (blocks + 2 * h * act_bytes) + chunk_bytes
    # Logits in the compute dtype (kept alive by the model output through backward), the
    # float32 log-softmax and its gradient, plus a float32 copy when computing in 16 bits.
    logits = dims.vocab_size * (act_bytes + 8 + (4 if act_bytes < 4 else 0))
    return tokens * (blocks + logits)


def tokens_per_micro_batch(config: RunConfig) -> int:
    """Tokens one training micro-batch holds for the run's method (see the module docstring)."""
    t = config.train
    if t.method in ("dpo", "orpo", "kto"):
        return 2 * t.batch_size * t.max_seq_length
    if t.method == "grpo":
        return t.batch_size * t.num_generations * (t.max_seq_length + t.max_completion_length)
    return t.batch_size * t.max_seq_length


def _generation_bytes(config: RunConfig, dims: ArchDims, act_bytes: int) -> int:
    """GRPO's generation round: the KV cache of every answer at full length, and one step's
    logits; 0 for the methods that do not generate."""
    t = config.train
    if t.method != "grpo":
        return 0
    sequences = t.batch_size * t.gradient_accumulation_steps * t.num_generations
    length = t.max_seq_length + t.max_completion_length
    kv_per_token = 2 * dims.num_layers * dims.num_kv_heads * dims.head_dim * act_bytes
    return sequences * (length * kv_per_token + dims.vocab_size * 4)


class _Estimate(NamedTuple):
    breakdown: MemoryBreakdown
    dtype: str
    trainable: int
    checkpointing: bool
    chunked_loss: bool


def _estimate(config: RunConfig, dims: ArchDims, hardware: HardwareInfo) -> _Estimate:
    checkpointing = config.train.gradient_checkpointing
    if checkpointing is None:
        # Auto, as training/builders.py's choose_gradient_checkpointing decides at run time:
        # on only when the run without it does not fit comfortably.
        plain = config.model_copy(
            update={"train": config.train.model_copy(update={"gradient_checkpointing": False})}
        )
        need = _estimate(plain, dims, hardware).breakdown.total
        checkpointing = need > _FITS_SHARE * hardware.device_memory_gb * GB
    chunked_loss = _chunked_loss(config, hardware)
    dtype = _resolve_dtype(config, hardware)
    wbytes = _DTYPE_BYTES[dtype]
    quant = config.model.quantization
    n_linear = dims.linear_parameters()
    n_rest = dims.count_parameters() - n_linear
    if quant == "none":
        weights = dims.count_parameters() * wbytes
    else:
        q_bytes = _NF4_BYTES if quant == "4bit" else _INT8_BYTES
        weights = int(n_linear * q_bytes) + n_rest * wbytes

    matrices, vectors = _trainable_matrices(config, dims)
    trainable = sum(a * b for a, b in matrices) + vectors
    tokens = tokens_per_micro_batch(config)
    # Activations are in the compute dtype: the load dtype, which is also the 4-bit compute dtype.
    activations = max(
        _activation_bytes(
            config, dims, wbytes, tokens, checkpointing=checkpointing, chunked_loss=chunked_loss
        ),
        _generation_bytes(config, dims, wbytes),
    )
    optimizer = _optimizer_bytes(config.train.optimizer, matrices, vectors)
    static = weights + 8 * trainable + optimizer  # + LoRA weights and gradients in float32
    if hardware.device == "cuda":
        overhead = _CUDA_RUNTIME + int(_FRAGMENTATION * (static + activations))
    else:
        overhead = _CPU_RUNTIME + int(_FRAGMENTATION * static) + int(_CPU_SLACK * activations)
    breakdown = MemoryBreakdown(
        weights=weights,
        lora_weights=4 * trainable,
        gradients=4 * trainable,
        optimizer=optimizer,
        activations=activations,
        overhead=overhead,
    )
    return _Estimate(breakdown, dtype, trainable, checkpointing, chunked_loss)


def _verdict(total: int, available_gb: float) -> Verdict:
    available = available_gb * GB
    if total <= _FITS_SHARE * available:
        return "fits"
    return "tight" if total <= available else "wont_fit"


def _with(config: RunConfig, overrides: dict[str, dict]) -> RunConfig:
    data = config.model_dump()
    for section, values in overrides.items():
        data[section].update(values)
    return RunConfig.model_validate(data)


def _suggest(
    config: RunConfig,
    dims: ArchDims,
    hardware: HardwareInfo,
    available_gb: float,
    *,
    checkpointing: bool,
) -> list[Suggestion]:
    t = config.train
    options: list[tuple[str, dict[str, dict], list[str]]] = []
    if t.batch_size > 1:
        effective = t.batch_size * t.gradient_accumulation_steps
        for bs in (d for d in range(t.batch_size - 1, 0, -1) if t.batch_size % d == 0):
            ga = effective // bs
            change = {"train": {"batch_size": bs, "gradient_accumulation_steps": ga}}
            total = _estimate(_with(config, change), dims, hardware).breakdown.total
            if total <= _FITS_SHARE * available_gb * GB or bs == 1:
                options.append(
                    (
                        f"micro-batch {bs} with {ga} accumulation steps "
                        f"(same effective batch of {effective})",
                        change,
                        [f"train.batch_size={bs}", f"train.gradient_accumulation_steps={ga}"],
                    )
                )
                break
    if not checkpointing:
        options.append(
            (
                "turn on gradient checkpointing (about 20-40% slower)",
                {"train": {"gradient_checkpointing": True}},
                ["train.gradient_checkpointing=true"],
            )
        )
    if config.model.quantization == "none" and hardware.device == "cuda":
        options.append(
            (
                "load the base model in 4-bit (QLoRA)",
                {"model": {"quantization": "4bit"}},
                ["model.quantization=4bit"],
            )
        )
    if t.max_seq_length > 512:
        seq = max(512, 2 ** int(math.log2(t.max_seq_length) - 1))
        options.append(
            (
                f"shorter sequences: max_seq_length {seq} (longer samples are truncated)",
                {"train": {"max_seq_length": seq}},
                [f"train.max_seq_length={seq}"],
            )
        )
    out = []
    combined: dict[str, dict] = {}
    for text, change, overrides in options:
        total = _estimate(_with(config, change), dims, hardware).breakdown.total
        out.append(Suggestion(text=text, overrides=overrides, total_gb=round(total / GB, 2)))
        for section, values in change.items():
            combined.setdefault(section, {}).update(values)
    if len(out) > 1 and all(s.total_gb > _FITS_SHARE * available_gb for s in out):
        total = _estimate(_with(config, combined), dims, hardware).breakdown.total
        overrides = [o for s in out for o in s.overrides]
        out.append(
            Suggestion(text="all of the above", overrides=overrides, total_gb=round(total / GB, 2))
        )
    return out


def estimate_memory(
    config: RunConfig, hardware: HardwareInfo | None = None, *, dims: ArchDims | None = None
) -> MemoryEstimate:
    """Estimate a run's peak memory and whether it fits this machine.

    Args:
        config: the run; its model, LoRA and train sections matter.
        hardware: the machine to check against; detected when None.
        dims: architecture sizes; found from the model name when None (see ``resolve_dims``).

    Returns:
        A ``MemoryEstimate`` with a per-component breakdown, a verdict (fits / tight /
        wont_fit against free GPU memory, or available RAM on CPU) and, unless it fits,
        suggestions that keep the effective batch.

    Raises:
        ModelError: the model's size cannot be found (see ``resolve_dims``).
    """
    hardware = hardware or detect_hardware()
    dims = dims or resolve_dims(config.model.name_or_path, config.model.revision)
    est = _estimate(config, dims, hardware)
    breakdown = est.breakdown
    available = hardware.device_memory_gb
    verdict = _verdict(breakdown.total, available)
    notes = []
    if config.model.quantization != "none" and hardware.device != "cuda":
        notes.append(
            f"{config.model.quantization} quantization needs a CUDA GPU and bitsandbytes; "
            "this machine has none, so loading will fail. Set model.quantization: none."
        )
    if config.train.optimizer in ("adamw_8bit", "paged_adamw_8bit") and hardware.device != "cuda":
        notes.append(f"{config.train.optimizer} needs bitsandbytes on a CUDA GPU.")
    if isinstance(config.lora.target_modules, list):
        known = {s.name for s in dims.linear_layers()} | {"lm_head", "embed_tokens"}
        unknown = sorted(set(config.lora.target_modules) - known)
        if unknown:
            notes.append(
                f"target modules not in a {dims.model_type} block: {', '.join(unknown)}; "
                f"its linear layers are {', '.join(s.name for s in dims.linear_layers())}."
            )
    return MemoryEstimate(
        model=config.model.name_or_path,
        device=hardware.device,
        dtype=est.dtype,
        quantization=config.model.quantization,
        parameters=dims.count_parameters(),
        trainable_parameters=est.trainable,
        tokens_per_micro_batch=tokens_per_micro_batch(config),
        gradient_checkpointing=est.checkpointing,
        chunked_loss=est.chunked_loss,
        breakdown=breakdown,
        total_gb=round(breakdown.total / GB, 2),
        available_gb=round(available, 2),
        verdict=verdict,
        suggestions=[]
        if verdict == "fits"
        else _suggest(config, dims, hardware, available, checkpointing=est.checkpointing),
        notes=notes,
    )
