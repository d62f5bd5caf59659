"""Our schema to library objects, in one place: ``peft.LoraConfig`` and the trainer arguments that
every method shares (SFT now; DPO and GRPO add their own fields on top of ``trainer_kwargs``).

We never expose all of ``TrainingArguments``; a field joins the schema when a user needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loralab.config import LoraConfig, RunConfig
from loralab.errors import ConfigError, FieldProblem, LoralabError, Unsupported

__all__ = [
    "Choice",
    "build_lora_config",
    "choose_attention",
    "choose_gradient_checkpointing",
    "choose_group_by_length",
    "choose_liger_kernel",
    "memory_available",
    "trainer_kwargs",
]

# Optimizers that need bitsandbytes, which needs CUDA.
_BNB_OPTIMIZERS = ("adamw_8bit", "paged_adamw_8bit")
# A run "fits comfortably" up to this share of the memory it may use (the estimator's "fits").
_COMFORTABLE_SHARE = 0.85
GB = 1024**3


@dataclass(frozen=True)
class Choice:
    """A setting the run decided for itself (or took from the config), and why."""

    value: Any
    reason: str

    def facts(self) -> dict[str, Any]:
        """For the run card."""
        return {"value": self.value, "reason": self.reason}


def choose_liger_kernel(setting: bool | None, device: str, *, chunked_loss: bool) -> Choice:
    """Whether an SFT run applies Liger-Kernel's layer kernels (``use_liger_kernel``), and why.

    ``setting`` is ``train.liger_kernel``. Empty (auto) means on when training on CUDA with
    ``liger_kernel`` importable; never with loralab's chunked loss (both replace the loss path).

    Raises:
        Unsupported: ``true`` without CUDA or without the package.
    """
    import importlib.util

    installed = importlib.util.find_spec("liger_kernel") is not None
    if setting is False:
        return Choice(False, "train.liger_kernel")
    if setting and (device != "cuda" or not installed):
        has = "no CUDA GPU" if device != "cuda" else "a CUDA GPU but no liger-kernel"
        raise Unsupported(
            f"train.liger_kernel: true needs a CUDA GPU and liger-kernel; this machine has {has}.",
            fix="Leave train.liger_kernel empty (chosen per machine), or install loralab[gpu] "
            "on a CUDA machine.",
        )
    if chunked_loss:
        return Choice(False, "off: the chunked loss is on")
    if setting:
        return Choice(True, "train.liger_kernel")
    if device != "cuda":
        return Choice(False, f"off: Triton kernels need CUDA (training on {device})")
    if not installed:
        return Choice(False, "off: liger-kernel is not installed (pip install loralab[gpu])")
    return Choice(True, "on: CUDA with liger-kernel installed")


def choose_attention(config: RunConfig, device: str, model: Any) -> Choice:
    """The attention kernel an SFT run trains with, and why; switches the loaded model to it.

    With ``model.attn_implementation: auto``, padding-free batches on the CPU take
    ``sdpa_packed`` (``loralab.models.packed_attention``: each packed sequence attends alone,
    with the causal kernel and no block mask) where the model allows it; otherwise, and for
    any other setting, what the model loaded with.
    """
    from loralab.models.packed_attention import (
        packed_attention_unsupported,
        register_packed_attention,
    )

    loaded = model.config._attn_implementation
    setting = f"model.attn_implementation: {config.model.attn_implementation}"
    if config.model.attn_implementation != "auto":
        return Choice(loaded, setting)
    padding_free = getattr(config.train, "padding_free", False)
    if device != "cpu" or not padding_free:
        return Choice(loaded, setting)
    why_not = packed_attention_unsupported(model.config)
    if why_not:
        return Choice(loaded, f"{setting} ({why_not}, so not sdpa_packed)")
    model.set_attn_implementation(register_packed_attention())
    return Choice(
        model.config._attn_implementation,
        "auto: padding-free batches on the CPU, each sequence attends alone (no block mask)",
    )


def build_lora_config(lora: LoraConfig):
    """The ``peft.LoraConfig`` for our ``lora`` section (causal LM task).

    Raises:
        ConfigError: ``lm_head`` is a LoRA target; TRL 1.16 computes log-probabilities from
            ``lm_head.weight`` directly, so an adapter there would never train.
    """
    import peft

    targets = lora.target_modules
    if isinstance(targets, list) and "lm_head" in targets:
        raise ConfigError(
            "LoRA on lm_head is not supported.",
            problems=[
                FieldProblem(
                    loc="lora.target_modules",
                    message="lm_head cannot get a LoRA adapter",
                    fix="remove lm_head, or train it in full with lora.modules_to_save: [lm_head]",
                )
            ],
        )
    alpha = int(lora.alpha) if float(lora.alpha).is_integer() else lora.alpha
    return peft.LoraConfig(
        task_type="CAUSAL_LM",
        r=lora.r,
        lora_alpha=alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        bias=lora.bias,
        use_rslora=lora.use_rslora,
        use_dora=lora.use_dora,
        modules_to_save=list(lora.modules_to_save) or None,
    )


def trainer_kwargs(
    config: RunConfig,
    output_dir: str | Path,
    *,
    device: str,
    model_dtype: Any,
    has_eval: bool,
    gradient_checkpointing: bool | None = None,
) -> dict[str, Any]:
    """Keyword arguments for any TRL trainer config (``trl.SFTConfig(**kwargs, ...)``).

    Args:
        config: the run config; its ``train`` section supplies the values.
        output_dir: where the Trainer writes ``checkpoint-N`` folders.
        device: ``"cpu"`` or ``"cuda"``.
        model_dtype: the loaded model's ``torch.dtype``; picks bf16/fp16 autocast on CUDA.
        has_eval: whether there is eval data (periodic eval needs ``train.eval_steps`` too).
        gradient_checkpointing: the decided value (see ``choose_gradient_checkpointing``);
            None decides here.

    Raises:
        Unsupported: an 8-bit optimizer without CUDA.
    """
    import torch

    t = config.train
    if t.optimizer in _BNB_OPTIMIZERS and device != "cuda":
        raise Unsupported(
            f"The {t.optimizer} optimizer needs a CUDA GPU and bitsandbytes.",
            fix="use train.optimizer: adamw_torch on this machine",
        )
    on_cuda = device == "cuda"
    periodic_eval = has_eval and t.eval_steps is not None
    if gradient_checkpointing is None:
        gradient_checkpointing = choose_gradient_checkpointing(config, device).value
    return dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        num_train_epochs=t.num_epochs,
        max_steps=t.max_steps or -1,  # max_steps, when set, overrides epochs
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        lr_scheduler_kwargs={"min_lr_rate": 0.1}
        if t.lr_scheduler == "cosine_with_min_lr"
        else None,
        # transformers 5 folded warmup_ratio into warmup_steps: a float below 1 is a ratio.
        warmup_steps=float(t.warmup_ratio),
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim=t.optimizer,
        # transformers 5.23 renamed gradient_checkpointing (it warns on the old name).
        activation_checkpointing=gradient_checkpointing,
        seed=t.seed,
        data_seed=t.seed,
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        # We rotate ourselves, after the COMPLETE marker (see checkpoints.rotate_checkpoints).
        save_total_limit=None,
        eval_strategy="steps" if periodic_eval else "no",
        eval_steps=t.eval_steps if periodic_eval else None,
        # TRL defaults to bf16=True, which fails on CPU. Autocast only on CUDA, as the weights.
        bf16=on_cuda and model_dtype == torch.bfloat16,
        fp16=on_cuda and model_dtype == torch.float16,
        use_cpu=not on_cuda,  # also what makes torchrun on CPU train as one DDP group
        report_to="none",
        disable_tqdm=True,  # our Reporter shows progress
        dataloader_num_workers=0,
        dataloader_pin_memory=on_cuda,
    )


def choose_gradient_checkpointing(
    config: RunConfig, device: str, chunked_loss: bool | None = None
) -> Choice:
    """``train.gradient_checkpointing`` when set; otherwise (auto) on only when the memory
    estimate of the run without it (``loralab.models.estimate_memory``) is over 85% of the
    memory this run may use (``memory_available``). ``chunked_loss``: what the run decided
    for the loss (``chunked_loss.choose_chunked_loss``), so the estimate counts the same
    logits the run will hold; None leaves the config's setting. Checkpointing cost 20-40% here
    (FIELD-NOTES; docs/training.md), so it is worth it only when memory is short. A model whose size is unknown
    gets it on."""
    from loralab.models import estimate_memory

    t = config.train
    if t.gradient_checkpointing is not None:
        return Choice(t.gradient_checkpointing, "train.gradient_checkpointing")
    update: dict = {"gradient_checkpointing": False}
    if chunked_loss is not None and "chunked_loss" in type(t).model_fields:
        update["chunked_loss"] = chunked_loss
    plain = config.model_copy(update={"train": t.model_copy(update=update)})
    try:
        need = estimate_memory(plain).breakdown.total
    except LoralabError as exc:
        return Choice(True, f"on: no memory estimate ({exc})")
    have, where = memory_available(device)
    fits = need <= _COMFORTABLE_SHARE * have
    return Choice(
        not fits,
        f"{'off' if fits else 'on'}: the estimated peak without it, {need / GB:.1f} GB, is "
        f"{'within' if fits else 'over'} 85% of {have / GB:.1f} GB {where}",
    )


def memory_available(device: str) -> tuple[int, str]:
    """Bytes this run may use and what they are: on CPU the available RAM plus what this
    process already holds (the estimate covers the whole process); on CUDA the current
    device's free memory plus what torch has reserved."""
    import psutil

    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return free + torch.cuda.memory_reserved(), "of free GPU memory"
    held = psutil.Process().memory_info().rss
    return psutil.virtual_memory().available + held, "of available RAM"


def choose_group_by_length(config: RunConfig) -> Choice:
    """For SFT: ``train.group_by_length`` when set; otherwise on for padded batches (similar
    lengths together pad less) and off for padding-free ones, which carry no padding to save."""
    value = config.train.group_by_length
    if value is not None:
        return Choice(value, "train.group_by_length")
    if not config.train.padding_free:
        return Choice(True, "on: padded batches pad less when lengths are alike")
    return Choice(False, "off: padding-free batches have no padding to save")
