"""``RunConfig``: the one schema that the UI form, the REST body and the CLI's YAML share.

Defaults, bounds and help text live once, on the fields; the UI renders them from the JSON
schema served at ``/api/schema/run-config``. Every model forbids unknown keys, so a typo is an
error rather than a silent default.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from loralab.config.rewards import Markers, RewardSpec
from loralab.config.rules import PREFERENCE_METHODS, check_run_config
from loralab.config.strict import StrictModel
from loralab.errors import FieldProblem

__all__ = [
    "DATA_FORMATS",
    "PREFERENCE_METHODS",
    "TRAIN_METHODS",
    "DPOConfig",
    "DataConfig",
    "GRPOConfig",
    "KTOConfig",
    "ORPOConfig",
    "WarmupConfig",
    "LoraConfig",
    "ModelConfig",
    "OutputConfig",
    "RunConfig",
    "SFTConfig",
    "TrainBase",
    "TrainConfig",
    "method_name",
    "run_config_model",
    "train_section",
]


class _Section(StrictModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    """The base model to fine-tune."""

    name_or_path: str = Field(
        min_length=1,
        description="A Hugging Face model id (e.g. Qwen/Qwen2.5-0.5B-Instruct) or a local folder.",
        examples=["Qwen/Qwen2.5-0.5B-Instruct", "./tiny-llama"],
    )
    revision: str | None = Field(
        default=None, description="A hub branch, tag or commit; empty for the default branch."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="Weight precision. 'auto' picks bfloat16 on GPUs that support it, float32 on CPU.",
    )
    quantization: Literal["none", "4bit", "8bit"] = Field(
        default="none",
        description="Load the base weights quantized (QLoRA). Needs a CUDA GPU and bitsandbytes.",
    )
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = Field(
        default="auto",
        description=(
            "Attention kernel. 'auto' is flash_attention_2 on a CUDA GPU with flash-attn "
            "installed and a bf16/fp16 model, else sdpa; flash_attention_2 needs a CUDA GPU."
        ),
    )
    trust_remote_code: bool = Field(
        default=False,
        description="Run Python code shipped with the model repository. Only for repos you trust.",
    )
    chat_template: str | None = Field(
        default=None,
        description="A Jinja chat template that replaces the model's own (for base models without one).",
    )
    adapter: str | None = Field(
        default=None,
        description=(
            "A LoRA adapter folder to continue training (its own rank and modules are kept; the "
            "lora section is not used). The server fills it from model.name_or_path: adapter:<id>."
        ),
    )


DATA_FORMATS = (
    "auto",
    "conversations",
    "messages",
    "alpaca",
    "dolly",
    "prompt_completion",
    "question_answer",
    "problem_solution",
    "squad",
    "preference",
    "unpaired_preference",
)


class DataConfig(_Section):
    """Where the training data comes from and how its fields map to a conversation."""

    source: str = Field(
        min_length=1,
        description="A local file (.json, .jsonl, .csv, .parquet) or a Hugging Face dataset id.",
        examples=["data/finetome_sample.parquet", "mlabonne/FineTome-100k"],
    )
    split: str = Field(default="train", description="The split to train on (hub datasets).")
    subset: str | None = Field(default=None, description="The hub dataset's subset (config name).")
    format: Literal[DATA_FORMATS] = Field(  # type: ignore[valid-type]
        default="auto",
        description="The dataset's shape. 'auto' detects it from the column names.",
    )
    field_mapping: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Which column fills which role, e.g. {'instruction': 'question', 'output': 'answer'}. "
            "Empty means detected automatically."
        ),
    )
    system_prompt: str | None = Field(
        default=None, description="A system message put first in every conversation."
    )
    max_samples: int | None = Field(
        default=None,
        ge=1,
        description="Use at most this many rows (after shuffling); empty for all.",
    )
    eval_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="Share of rows held out for evaluation (0 for none).",
    )
    eval_split: str | None = Field(
        default=None,
        description="A separate split (hub) or file to evaluate on, instead of eval_fraction.",
    )


class LoraConfig(_Section):
    """The LoRA adapter."""

    r: int = Field(default=16, ge=1, le=1024, description="Rank of the update matrices.")
    alpha: float = Field(
        default=32, gt=0, le=4096, description="Scaling; the update is multiplied by alpha / r."
    )
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default="all-linear",
        description="Which layers get adapters: 'all-linear', or names like q_proj, v_proj.",
    )
    bias: Literal["none", "all", "lora_only"] = Field(
        default="none", description="Which biases to train."
    )
    use_rslora: bool = Field(
        default=False, description="Rank-stabilised LoRA: scale by alpha / sqrt(r)."
    )
    use_dora: bool = Field(default=False, description="Weight-decomposed LoRA (DoRA).")
    modules_to_save: list[str] = Field(
        default_factory=list,
        description="Modules trained in full and saved with the adapter, e.g. embed_tokens, lm_head.",
    )


class TrainBase(_Section):
    """The settings every training method shares. A method subclasses it, adds
    ``method: Literal["<name>"]`` and its own fields, and joins ``TRAIN_METHODS``."""

    num_epochs: float = Field(default=1.0, gt=0, le=1000, description="Passes over the data.")
    max_steps: int | None = Field(
        default=None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    batch_size: int = Field(default=2, ge=1, le=4096, description="Sequences per device per step.")
    gradient_accumulation_steps: int = Field(
        default=4, ge=1, le=4096, description="Micro-batches summed before each optimizer step."
    )
    learning_rate: float = Field(default=2e-4, gt=0, le=1.0, description="Peak learning rate.")
    lr_scheduler: Literal[
        "linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr"
    ] = Field(default="cosine", description="How the learning rate changes over the run.")
    warmup_ratio: float = Field(
        default=0.03, ge=0.0, le=0.5, description="Share of steps spent warming up the rate."
    )
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(default=1.0, ge=0.0, description="Gradient clipping (0 = off).")
    optimizer: Literal[
        "adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd"
    ] = Field(default="adamw_torch", description="Optimizer; the 8-bit ones need bitsandbytes.")
    max_seq_length: int = Field(
        default=2048,
        ge=16,
        le=262144,
        description="Longer samples are truncated to this many tokens.",
    )
    gradient_checkpointing: bool | None = Field(
        default=None,
        description=(
            "Recompute activations to save memory (20-40% slower). Empty = auto: on only "
            "when the memory estimate without it does not fit comfortably in free memory."
        ),
    )
    seed: int = Field(default=42, ge=0, description="Random seed for shuffling and initialisation.")
    logging_steps: int = Field(default=1, ge=1, description="Log metrics every N steps.")
    save_steps: int = Field(default=100, ge=1, description="Save a checkpoint every N steps.")
    eval_steps: int | None = Field(
        default=None,
        ge=1,
        description="Evaluate every N steps (needs eval data); empty = at the end.",
    )
    save_total_limit: int | None = Field(
        default=2, ge=1, description="Keep only the newest N checkpoints; empty keeps all."
    )
    cpu_threads: int | None = Field(
        default=None,
        ge=1,
        le=512,
        description=(
            "Torch threads per process on CPU. Empty = the physical cores this process may use, "
            "shared among the CPU jobs running at once."
        ),
    )
    fused_lora: bool | None = Field(
        default=None,
        description=(
            "Compute each LoRA layer as one fused step (three matrix products, one autograd "
            "node) instead of PEFT's six modules and operations: same numbers, less overhead "
            "per step. Empty = on for vanilla LoRA without dropout (the default); false keeps "
            "PEFT's layers."
        ),
    )
    fused_layers: bool | None = Field(
        default=None,
        description=(
            "Compute each RMSNorm and SwiGLU MLP as one fused step that keeps fewer tensors for "
            "the backward pass (the MLP recomputes its activation instead of storing it): same "
            "numbers, about 30% less activation memory on float32 (CPU) runs. Empty = on "
            "(off where Liger-Kernel's kernels replace these layers); false keeps the model's "
            "own layers. SFT only."
        ),
    )


class SFTConfig(TrainBase):
    """Supervised fine-tuning on conversations."""

    model_config = ConfigDict(title="Supervised fine-tuning (SFT)")

    method: Literal["sft"] = Field(default="sft", description="Training method.")
    assistant_only_loss: bool = Field(
        default=True, description="Compute the loss on the assistant's tokens only."
    )
    padding_free: bool = Field(
        default=True,
        description=(
            "Concatenate the batch without padding (measured 1.8x faster than padded here, "
            "same loss). Sequences never attend to each other."
        ),
    )
    group_by_length: bool | None = Field(
        default=None,
        description=(
            "Batch examples of similar length together, so padded batches waste less. "
            "Empty = on for padded batches, off with padding_free (nothing to save there)."
        ),
    )
    chunked_loss: bool | None = Field(
        default=None,
        description=(
            "Compute the loss a few hundred tokens at a time, so the logits of the whole batch "
            "over the vocabulary are never held at once. Empty = on when training on the CPU "
            "(measured faster and leaner than TRL's own there); on GPU TRL's fused loss stays."
        ),
    )
    liger_kernel: bool | None = Field(
        default=None,
        description=(
            "Liger-Kernel's fused Triton layers (RMSNorm, RoPE, SwiGLU) on a CUDA GPU. Empty = on "
            "when training on CUDA with liger-kernel installed (pip install loralab[gpu]); "
            "true needs both."
        ),
    )


_PREFERENCE_LR = Field(
    default=5e-5,
    gt=0,
    le=1.0,
    description=(
        "Peak learning rate. Preference tuning moves the model less than SFT; 5e-5 suits LoRA."
    ),
)
_MAX_PROMPT = Field(
    default=None,
    ge=1,
    description=(
        "Leave out pairs whose prompt is longer than this many tokens (counted in the run card); "
        "empty keeps all. The prompt and reply together are cut at max_seq_length."
    ),
)


class DPOConfig(TrainBase):
    """Direct preference optimisation: teaches the model to prefer the chosen reply over the
    rejected one for the same prompt. Needs preference pairs (prompt, chosen, rejected). The
    reference is the base model with the adapter switched off, so no second copy is loaded."""

    model_config = ConfigDict(title="Preference pairs (DPO)")

    method: Literal["dpo"] = Field(default="dpo", description="Training method.")
    learning_rate: float = _PREFERENCE_LR
    beta: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description=(
            "How far the tuned model may drift from the base: higher keeps it closer "
            "(0.1 is usual; for ipo it is the regulariser)."
        ),
    )
    loss_type: Literal[
        "sigmoid",
        "ipo",
        "hinge",
        "robust",
        "exo_pair",
        "nca_pair",
        "bco_pair",
        "apo_zero",
        "apo_down",
        "sppo_hard",
        "aot",
        "discopop",
        "sigmoid_norm",
    ] = Field(
        default="sigmoid",
        description=(
            "The preference loss: sigmoid is the original DPO; ipo resists overfitting on small "
            "data; robust expects some pairs to be mislabelled (with label_smoothing)."
        ),
    )
    label_smoothing: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description=(
            "The share of pairs you think are labelled the wrong way round (robust and exo "
            "losses); 0 trusts every pair."
        ),
    )
    max_prompt_length: int | None = _MAX_PROMPT


class ORPOConfig(TrainBase):
    """Odds-ratio preference optimisation: SFT on the chosen reply and a penalty on the rejected
    one in a single pass, with no reference model at all. Needs preference pairs."""

    model_config = ConfigDict(title="Preference pairs, no reference (ORPO)")

    method: Literal["orpo"] = Field(default="orpo", description="Training method.")
    learning_rate: float = _PREFERENCE_LR
    beta: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description=(
            "Weight of the preference penalty against the plain SFT loss on the chosen reply "
            "(lambda in the ORPO paper)."
        ),
    )
    max_prompt_length: int | None = _MAX_PROMPT


class KTOConfig(TrainBase):
    """Kahneman-Tversky optimisation: learns from replies marked good or bad, one reply per row
    (prompt, completion, label), so no pairs are needed. Preference pairs work too: each is split
    into one good and one bad example."""

    model_config = ConfigDict(title="Good and bad examples (KTO)")

    method: Literal["kto"] = Field(default="kto", description="Training method.")
    learning_rate: float = _PREFERENCE_LR
    beta: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description="How far the tuned model may drift from the base: higher keeps it closer.",
    )
    desirable_weight: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Weight of the good examples; raise it when they are fewer than the bad ones.",
    )
    undesirable_weight: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Weight of the bad examples; raise it when they are fewer than the good ones.",
    )
    max_prompt_length: int | None = _MAX_PROMPT


class WarmupConfig(_Section):
    """A short SFT run on the reference answers, written in the markers' format, before RL."""

    epochs: float = Field(default=1.0, gt=0, le=100, description="Passes over the warm-up rows.")
    max_samples: int | None = Field(
        default=64, ge=1, description="Warm up on at most this many rows; empty for all."
    )
    learning_rate: float = Field(
        default=2e-4, gt=0, le=1.0, description="Peak learning rate of the warm-up."
    )


def _scale_rewards_word(value: Any) -> Any:
    # TRL also takes true/false (YAML's on/off too): the same as group/none.
    return {True: "group", False: "none"}.get(value, value) if isinstance(value, bool) else value


class GRPOConfig(TrainBase):
    """Reinforcement learning with rewards (GRPO): for each prompt the model writes several
    answers, the reward functions score them, and the model moves towards the better ones.
    Needs prompts (a question column; the answer column is handed to the rewards)."""

    model_config = ConfigDict(title="Rewards (GRPO / GSPO)")

    method: Literal["grpo"] = Field(default="grpo", description="Training method.")
    learning_rate: float = Field(
        default=1e-4, gt=0, le=1.0, description="Peak learning rate (5e-4 learns a format fast)."
    )
    batch_size: int = Field(
        default=2,
        ge=1,
        le=4096,
        description=(
            "Prompts per device per micro-batch. Each gets num_generations answers, so the model "
            "trains on batch_size x num_generations sequences at a time."
        ),
    )
    gradient_accumulation_steps: int = Field(
        default=2, ge=1, le=4096, description="Micro-batches summed before each optimizer step."
    )
    num_generations: int = Field(
        default=4,
        ge=2,
        le=256,
        description=(
            "Answers written per prompt. More gives a better signal and costs memory and time "
            "in proportion."
        ),
    )
    max_completion_length: int = Field(
        default=128,
        ge=1,
        le=32768,
        description="Longest answer the model may write, in tokens (longer ones are cut).",
    )
    temperature: float = Field(
        default=1.0,
        gt=0,
        le=5.0,
        description="Sampling temperature: higher gives more varied answers to learn from.",
    )
    top_p: float = Field(
        default=1.0, gt=0, le=1.0, description="Sample only from the most likely tokens (1 = all)."
    )
    beta: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description=(
            "KL penalty keeping the model close to the base. 0 (default) skips the reference "
            "pass and is faster; KL is logged only when beta > 0 (0.001-0.04 is usual)."
        ),
    )
    epsilon: float = Field(
        default=0.2,
        gt=0,
        le=1.0,
        description="Clipping: how far one update may move an answer's probability ratio.",
    )
    epsilon_high: float | None = Field(
        default=None,
        gt=0,
        le=10.0,
        description=(
            "Upper clipping bound, when it differs from epsilon: a higher one (DAPO's "
            "clip-higher, 0.28) lets unlikely good answers grow faster; for cispo it is the "
            "cap on the ratio (5 is usual). Empty for the same as epsilon."
        ),
    )
    scale_rewards: Annotated[
        Literal["group", "batch", "none"], BeforeValidator(_scale_rewards_word)
    ] = Field(
        default="group",
        description=(
            "What a reward's advantage is divided by: the standard deviation of its prompt's "
            "answers (group), of the whole batch (batch), or nothing (none, as Dr. GRPO "
            "recommends: scaling favours questions that are too easy or too hard)."
        ),
    )
    loss_type: Literal["dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo", "luspo", "vespo"] = (
        Field(
            default="dapo",
            description=(
                "How token losses are averaged: dapo (default) and dr_grpo avoid a bias towards "
                "short answers; grpo is the original; luspo needs importance_sampling_level "
                "sequence."
            ),
        )
    )
    importance_sampling_level: Literal["token", "sequence"] = Field(
        default="token",
        description="'sequence' is GSPO: one ratio per answer, often more stable than per token.",
    )
    rewards: list[RewardSpec] = Field(
        default_factory=list,
        description="The reward functions (at least one), each with a weight in the total.",
    )
    markers: Markers = Field(
        default_factory=Markers,
        description="Where reasoning and the final answer start and end in an answer.",
    )
    system_prompt_template: bool = Field(
        default=True,
        description="Put a system prompt first that asks for the markers' format.",
    )
    warmup: WarmupConfig | None = Field(
        default=None,
        description=(
            "An SFT warm-up on the reference answers in the markers' format, run first so the "
            "model knows the format before RL; empty for none."
        ),
    )


# The training methods, the default (used when a train section names no method) first. Adding
# one is its class (a TrainBase with `method: Literal["<name>"]`) and a line here.
TRAIN_METHODS: tuple[type[TrainBase], ...] = (
    SFTConfig,
    DPOConfig,
    ORPOConfig,
    KTOConfig,
    GRPOConfig,
)

_KNOWN_ERROR_TYPES = frozenset(typing.get_args(ErrorType))


def method_name(model: type[TrainBase]) -> str:
    """The ``method`` value that selects ``model`` (its ``Literal`` tag).

    Raises:
        TypeError: the model has no ``method: Literal["<name>"]`` field.
    """
    field = model.model_fields.get("method")
    annotation = field.annotation if field is not None else None
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is not Literal or len(args) != 1:
        raise TypeError(f"{model.__name__} needs a field `method: Literal['<name>']`")
    return str(args[0])


def _untagged(exc: ValidationError, tags: frozenset[str], mode: str) -> ValidationError:
    # pydantic puts the union's tag in the path ("train.sft.learning_rate"); users write
    # "train.learning_rate". Rebuild the same errors without it.
    line_errors: list[InitErrorDetails] = []
    for err in exc.errors():
        loc = err["loc"]
        if loc and loc[0] in tags:
            loc = loc[1:]
        ctx = err.get("ctx")
        kind: str | PydanticCustomError = err["type"]
        if kind not in _KNOWN_ERROR_TYPES:  # a PydanticCustomError raised inside a method
            kind = PydanticCustomError(err["type"], err["msg"], ctx)
        detail = InitErrorDetails(type=kind, loc=loc, input=err["input"])
        if ctx is not None:
            detail["ctx"] = ctx
        line_errors.append(detail)
    return ValidationError.from_exception_data(
        exc.title, line_errors, input_type="json" if mode == "json" else "python"
    )


def train_section(methods: Sequence[type[TrainBase]]) -> Any:
    """The type of a train section offering ``methods``: a union discriminated by ``method``.

    The JSON schema is a ``oneOf`` with ``discriminator: {propertyName: method, mapping}``. A
    section without ``method`` is the first method's, so the shortest YAML stays short. Errors
    inside a method point at its field (``train.learning_rate``), not at the union's tag.

    Raises:
        TypeError: no methods, a method without a ``method`` literal, or two with one name.
    """
    if not methods:
        raise TypeError("a train section needs at least one method")
    names = [method_name(m) for m in methods]
    if len(set(names)) != len(names):
        raise TypeError(f"two training methods share a name: {names}")
    tags, default = frozenset(names), names[0]

    def fill_method(value: Any) -> Any:
        if isinstance(value, dict) and "method" not in value:
            return {"method": default, **value}
        return value

    def untag_errors(value: Any, handler: Any, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            raise _untagged(exc, tags, info.mode) from None

    return Annotated[
        Union[tuple(methods)],  # type: ignore[valid-type]  # noqa: UP007
        Field(discriminator="method"),
        BeforeValidator(fill_method),
        WrapValidator(untag_errors),
    ]


TrainConfig = train_section(TRAIN_METHODS)


class OutputConfig(_Section):
    """Where the run writes its checkpoints, adapter, logs and run card."""

    dir: str = Field(
        default="outputs/run",
        min_length=1,
        description="Output folder. The server puts each job under its data dir instead.",
    )


_TRAIN_HELP = (
    "How to train. `method` picks the training method (sft when left out); each method adds "
    "its own fields to the shared ones."
)


class RunConfig(_Section):
    """Everything needed to repeat a fine-tuning run."""

    model: ModelConfig
    data: DataConfig
    lora: LoraConfig = Field(default_factory=LoraConfig)
    train: TrainConfig = Field(default_factory=TRAIN_METHODS[0], description=_TRAIN_HELP)
    output: OutputConfig = Field(default_factory=OutputConfig)
    name: str | None = Field(default=None, max_length=200, description="A label for the run.")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> RunConfig:
        # Every broken rule at once, each at its own field (check_run_config's list). They run
        # only once every field is valid on its own: the rules read validated sections.
        problems = check_run_config(self)
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__, [_rule_error(self, p) for p in problems]
            )
        return self


def _rule_error(cfg: RunConfig, problem: FieldProblem) -> InitErrorDetails:
    loc = tuple(problem.loc.split("."))
    value: Any = cfg
    for part in loc:
        value = getattr(value, part, None)
    ctx = {"message": problem.message}
    if problem.fix:
        ctx["fix"] = problem.fix
    # The message comes from ctx, so braces in it are never read as a template.
    error = PydanticCustomError("config_rule", "{message}", ctx)
    return InitErrorDetails(type=error, loc=loc, input=value, ctx=ctx)


def run_config_model(
    methods: Sequence[type[TrainBase]], name: str = "RunConfig"
) -> type[RunConfig]:
    """A ``RunConfig`` whose train section offers ``methods`` (the first is the default).

    ``RunConfig`` itself is this with ``TRAIN_METHODS``; tests use it to add a method the real
    schema does not have and see the schema, the errors and the UI handle it.
    """
    section = train_section(methods)
    return create_model(  # type: ignore[no-any-return]
        name,
        __base__=RunConfig,
        __doc__=RunConfig.__doc__,
        train=(section, Field(default_factory=methods[0], description=_TRAIN_HELP)),
    )
