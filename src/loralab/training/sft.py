"""Supervised fine-tuning with LoRA, top to bottom: read, load, tokenise, build, train, save.

    conversations -> model + tokenizer -> input_ids + labels (assistant tokens only by default)
    -> peft.LoraConfig + trl.SFTConfig -> SFTTrainer.train (stop/resume callbacks)
    -> adapter/ + tokenizer + run card

The data layer renders each conversation with the model's own chat template and marks the
assistant's characters, so assistant-only loss works for any template (no ``{% generation %}``
markers needed). We hand TRL finished ``input_ids`` and ``labels`` (cached by their inputs);
it only batches them.

The fast path is decided at run time and written to the run card with its reasons: torch
threads from the machine's cores, gradient checkpointing from the memory estimate,
length-grouped batches when padded, the chunked loss (``chunked_loss.py``) on CPU, per-sequence
attention for padding-free batches on CPU (``loralab.models.packed_attention``), fused
LoRA layers (``fused_lora.py``) and fused RMSNorm and MLP layers (``fused_layers.py``).
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import PrinterCallback
from trl import SFTTrainer

from loralab.config import RunConfig
from loralab.training.builders import (
    build_lora_config,
    choose_attention,
    choose_gradient_checkpointing,
    choose_group_by_length,
    choose_liger_kernel,
    trainer_kwargs,
)
from loralab.training.callbacks import RunFacts, training_callbacks
from loralab.training.checkpoints import read_marker
from loralab.training.chunked_loss import ChunkedLossSFTTrainer, choose_chunked_loss
from loralab.training.environment import apply_threads, choose_threads, training_device
from loralab.training.fused_layers import apply_fused_layers, choose_fused_layers
from loralab.training.fused_lora import apply_fused_lora, choose_fused_lora
from loralab.training.layout import RunLayout, prepare_output_dir, save_adapter
from loralab.training.progress import StepClock
from loralab.training.reporter import Finished, LogLine, Phase, Reporter, Stopped
from loralab.training.run import RunResult, StopEvent
from loralab.training.run_card import build_run_card, write_run_card
from loralab.training.sft_data import read_conversations, tokenize_splits, write_heldout
from loralab.training.tokens_cache import tokenized_cache_dir

__all__ = ["build_sft_config", "run_sft"]


def run_sft(
    config: RunConfig,
    reporter: Reporter,
    *,
    resume: bool = False,
    stop: StopEvent | None = None,
) -> RunResult:
    """Train a LoRA adapter on conversations. See ``loralab.training.train`` for the contract."""
    from loralab.models import load_model_and_tokenizer

    started = time.monotonic()
    timings: dict[str, float] = {}
    t = config.train
    layout = RunLayout.at(config.output.dir)
    resume_from = prepare_output_dir(layout, config, resume=resume, reporter=reporter)
    device = training_device()
    speed = {"threads": choose_threads(t.cpu_threads, device)}
    threads = apply_threads(speed["threads"])
    speed["group_by_length"] = choose_group_by_length(config)

    # 1. Conversations first: bad data fails in seconds, before a large model loads.
    mark = time.monotonic()
    conversations = read_conversations(config.data, seed=t.seed, reporter=reporter)
    if conversations.eval:  # kept with the run, so an evaluation can use the same rows
        write_heldout(layout.heldout, conversations.eval)
    timings["read_data"] = time.monotonic() - mark

    # 2. Model and tokenizer.
    reporter.report(Phase(name="loading_model", message=f"Loading {config.model.name_or_path}"))
    mark = time.monotonic()
    model, tokenizer = load_model_and_tokenizer(config.model, for_training=True)
    timings["load_model"] = time.monotonic() - mark
    # After loading: a hub model's size is known once its config is in the cache. The loss
    # is decided first, so the memory estimate counts the logits this run will really hold.
    speed["chunked_loss"] = choose_chunked_loss(t.chunked_loss, device, model)
    speed["gradient_checkpointing"] = choose_gradient_checkpointing(
        config, device, chunked_loss=speed["chunked_loss"].value
    )
    speed["liger_kernel"] = choose_liger_kernel(
        t.liger_kernel, device, chunked_loss=speed["chunked_loss"].value
    )
    speed["fused_lora"] = choose_fused_lora(t.fused_lora, config.lora)
    if t.fused_lora and not speed["fused_lora"].value:  # asked for, and it cannot apply
        reporter.report(
            LogLine(
                message=f"train.fused_lora is on but not used: {speed['fused_lora'].reason}",
                level="warning",
            )
        )
    speed["fused_layers"] = choose_fused_layers(
        t.fused_layers, device, liger_kernel=speed["liger_kernel"].value
    )
    speed["attention"] = choose_attention(config, device, model)
    if _stop_requested(stop):
        return _stopped_before_training(layout, reporter)

    # 3. input_ids + labels through the model's own chat template (assistant tokens only),
    # or from the tokens cache when the same rows were tokenised the same way before.
    mark = time.monotonic()
    train_data, eval_data = tokenize_splits(
        conversations,
        tokenizer,
        max_length=t.max_seq_length,
        assistant_only_loss=t.assistant_only_loss,
        reporter=reporter,
        stop=stop,
        cache_dir=tokenized_cache_dir(layout.root),
    )
    if _stop_requested(stop):
        return _stopped_before_training(layout, reporter)
    data_facts = {**conversations.facts, **train_data.facts()}
    data_facts["eval_examples"] = len(eval_data.dataset) if eval_data else 0
    if conversations.eval:
        data_facts["heldout_file"] = str(layout.heldout.relative_to(layout.root))
    timings["tokenize"] = time.monotonic() - mark

    # 4. LoRA and trainer. SFTTrainer wraps the model with PEFT, seeding first; an adapter to
    # continue is loaded trainable instead. The chunked loss is SFTTrainer with its own loss.
    trainer_class = ChunkedLossSFTTrainer if speed["chunked_loss"].value else SFTTrainer
    peft_config = build_lora_config(config.lora)
    if config.model.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, config.model.adapter, is_trainable=True)
        peft_config = None

    prior = read_marker(resume_from) if resume_from else {}
    clock = StepClock(prior_elapsed=float(prior.get("elapsed_seconds", 0.0)))
    facts = RunFacts(
        method="sft",
        train_examples=len(train_data.dataset),
        eval_examples=len(eval_data.dataset) if eval_data else 0,
        output_dir=str(layout.root),
        resumed_from=int(prior["step"]) if "step" in prior else None,
        device=device,
        threads=threads,
    )
    stop_cb, ckpt_cb, progress_cb = training_callbacks(
        reporter, clock, facts, stop=stop, keep_checkpoints=t.save_total_limit
    )
    with _known_library_warnings_silenced():
        trainer = trainer_class(
            model=model,
            args=build_sft_config(
                config,
                layout.checkpoints,
                device=device,
                model_dtype=model.dtype,
                has_eval=bool(eval_data),
                gradient_checkpointing=speed["gradient_checkpointing"].value,
                group_by_length=speed["group_by_length"].value,
                liger_kernel=speed["liger_kernel"].value,
            ),
            train_dataset=train_data.dataset,
            eval_dataset=eval_data.dataset if eval_data else None,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[stop_cb, ckpt_cb, progress_cb],
        )
    trainer.remove_callback(PrinterCallback)  # it prints raw log dicts; our reporter shows progress
    if speed["fused_lora"].value:
        apply_fused_lora(trainer.model)
    if speed["fused_layers"].value:
        apply_fused_layers(trainer.model, lora=speed["fused_lora"].value)

    # 5. Train (from the last complete checkpoint when resuming).
    mark = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    state = trainer.state
    stopped = stop_cb.requested_at is not None and state.global_step < state.max_steps
    if not stopped and eval_data is not None and t.eval_steps is None:
        trainer.evaluate()  # an empty train.eval_steps means "evaluate at the end"
    timings["train"] = time.monotonic() - mark

    # 6. Save the adapter and tokenizer, then the run card: 100% only once they are on disk.
    adapter = None
    if not stopped:
        reporter.report(Phase(name="saving", message="Saving the adapter and run card"))
        mark = time.monotonic()
        save_adapter(trainer.model, tokenizer, layout.adapter)
        adapter = layout.adapter
        timings["save"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    metrics = _final_metrics(progress_cb, clock)
    checkpoint = layout.last_checkpoint()
    card = write_run_card(
        layout.root,
        build_run_card(
            config,
            status="stopped" if stopped else "completed",
            step=state.global_step,
            total_steps=state.max_steps,
            metrics=metrics,
            data=data_facts,
            timings=timings,
            adapter_path=str(adapter) if adapter else None,
            checkpoint_path=str(checkpoint) if checkpoint else None,
            resumed_from=facts.resumed_from,
            threads=threads,
            device=device,
            speed={name: choice.facts() for name, choice in speed.items()},
        ),
    )
    if stopped:
        reporter.report(
            Stopped(step=state.global_step, checkpoint_path=str(checkpoint) if checkpoint else None)
        )
    else:
        reporter.report(
            Finished(
                step=state.global_step,
                metrics=metrics,
                adapter_path=str(adapter),
                run_card_path=str(card),
                elapsed_seconds=round(clock.elapsed, 3),
            )
        )
    return RunResult(
        status="stopped" if stopped else "completed",
        step=state.global_step,
        total_steps=state.max_steps,
        output_dir=layout.root,
        adapter_dir=adapter,
        checkpoint_dir=checkpoint,
        run_card=card,
        resumed_from=facts.resumed_from,
        metrics=metrics,
    )


def build_sft_config(
    config: RunConfig,
    output_dir: str | Path,
    *,
    device: str,
    model_dtype: Any,
    has_eval: bool,
    gradient_checkpointing: bool | None = None,
    group_by_length: bool | None = None,
    liger_kernel: bool = False,
):
    """The ``trl.SFTConfig`` for this run (see ``builders.trainer_kwargs`` for the shared part).

    ``gradient_checkpointing`` and ``group_by_length`` are the run's decided values; None
    decides them here (``choose_gradient_checkpointing``, ``choose_group_by_length``).

    Our dataset is already tokenised with ``labels`` (-100 outside assistant spans when
    ``train.assistant_only_loss``), so TRL's own ``assistant_only_loss`` stays off: in TRL 1.16 it
    needs a conversational dataset and ``{% generation %}`` markers. Sequences are already
    truncated to ``train.max_seq_length``, so ``max_length=None`` (TRL refuses padding-free with
    ``max_length`` and no packing). Padding-free batches carry ``position_ids`` that restart at 0
    for each sequence; with sdpa and eager attention (transformers 5.23) packed sequences do not
    attend to each other (tests/training/test_data_prep.py checks this).
    """
    from trl import SFTConfig

    t = config.train
    if group_by_length is None:
        group_by_length = choose_group_by_length(config).value
    return SFTConfig(
        **trainer_kwargs(
            config,
            output_dir,
            device=device,
            model_dtype=model_dtype,
            has_eval=has_eval,
            gradient_checkpointing=gradient_checkpointing,
        ),
        # transformers 5 replaced group_by_length with a sampling strategy.
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        max_length=None,
        padding_free=t.padding_free,
        packing=False,
        assistant_only_loss=False,
        completion_only_loss=False,
        dataset_num_proc=None,
        use_liger_kernel=liger_kernel,  # decided by choose_liger_kernel (CUDA only)
    )


@contextmanager
def _known_library_warnings_silenced():
    # peft 0.21 reads model.is_gradient_checkpointing, which transformers 5.23 deprecates with a
    # FutureWarning on every run; nothing for a user to act on.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        yield


def _stop_requested(stop: StopEvent | None) -> bool:
    return stop is not None and stop.is_set()


def _stopped_before_training(layout: RunLayout, reporter: Reporter) -> RunResult:
    reporter.report(Stopped(step=0, checkpoint_path=None, reason="stopped before the first step"))
    return RunResult(status="stopped", step=0, total_steps=0, output_dir=layout.root)


def _final_metrics(progress_cb, clock: StepClock) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if progress_cb.last_loss is not None:
        metrics["train_loss"] = progress_cb.last_loss
    if "train_loss" in progress_cb.train_metrics:
        metrics["train_loss_mean"] = progress_cb.train_metrics["train_loss"]
    metrics.update(progress_cb.last_eval)
    metrics["train_seconds"] = round(clock.elapsed, 3)
    return metrics
