"""Preference tuning with LoRA (DPO, ORPO, KTO), top to bottom: read pairs, load, build, train, save.

    preference pairs (prompt, chosen, rejected), or for KTO replies labelled good or bad
    (prompt, completion, label) -> model + tokenizer
    -> peft.LoraConfig + the method's TRL config -> DPOTrainer | ORPOTrainer | KTOTrainer.train
       (stop/resume/checkpoint callbacks) -> adapter/ + tokenizer + run card

Which TRL trainer each method maps to (TRL 1.16):

- ``dpo``: ``trl.DPOTrainer``. The reference is the base model with the adapter switched off
  (PEFT's ``disable_adapter``), so no second copy of the weights is loaded.
- ``orpo``: ``trl.experimental.orpo.ORPOTrainer``; ORPO has no reference model at all.
- ``kto``: ``trl.KTOTrainer``, on TRL's unpaired shape (``prompt``, ``completion``, ``label``):
  labelled replies as they are, and pairs split by TRL into a desirable and an undesirable
  example; the reference is the adapter-disabled base, as for DPO.

The rows stay conversational (lists of messages); each trainer renders them with the model's
own chat template and tokenises them itself.
"""

from __future__ import annotations

import time
from typing import Any

from loralab.config import RunConfig
from loralab.errors import DataError, FieldProblem
from loralab.training.builders import (
    Choice,
    build_lora_config,
    choose_gradient_checkpointing,
    trainer_kwargs,
)
from loralab.training.callbacks import RunFacts, training_callbacks
from loralab.training.checkpoints import read_marker
from loralab.training.environment import (
    ThreadChoice,
    apply_threads,
    choose_threads,
    training_device,
)
from loralab.training.finish import (
    finish_run,
    library_warnings_silenced,
    stop_requested,
    stopped_before_training,
)
from loralab.training.layout import RunLayout, prepare_output_dir
from loralab.training.progress import StepClock
from loralab.training.reporter import LogLine, Phase, Reporter
from loralab.training.run import RunResult, StopEvent

__all__ = ["build_preference_config", "read_pairs", "run_preference"]


def run_preference(
    config: RunConfig,
    reporter: Reporter,
    *,
    resume: bool = False,
    stop: StopEvent | None = None,
) -> RunResult:
    """Train a LoRA adapter on preference pairs with DPO, ORPO or KTO (``config.train.method``).

    See ``loralab.training.train`` for the contract.

    Raises:
        DataError: the data is not preference pairs, or no pair is left after the prompt limit.
    """
    from loralab.models import load_model_and_tokenizer

    started = time.monotonic()
    timings: dict[str, float] = {}
    t = config.train
    layout = RunLayout.at(config.output.dir)
    resume_from = prepare_output_dir(layout, config, resume=resume, reporter=reporter)
    device = training_device()
    speed: dict[str, Choice | ThreadChoice] = {"threads": choose_threads(t.cpu_threads, device)}
    threads = apply_threads(speed["threads"])

    # 1. Pairs first: bad data fails in seconds, before a large model loads.
    mark = time.monotonic()
    train_rows, eval_rows, data_facts = read_pairs(config, reporter)
    timings["read_data"] = time.monotonic() - mark

    # 2. Model and tokenizer.
    reporter.report(Phase(name="loading_model", message=f"Loading {config.model.name_or_path}"))
    mark = time.monotonic()
    model, tokenizer = load_model_and_tokenizer(config.model, for_training=True)
    timings["load_model"] = time.monotonic() - mark
    # After loading: a hub model's size is known once its config is in the cache.
    speed["gradient_checkpointing"] = choose_gradient_checkpointing(config, device)
    if stop_requested(stop):
        return stopped_before_training(layout, reporter)

    # 3. Drop pairs whose prompt alone is over the limit (TRL 1.16 truncates only the whole pair).
    reporter.report(Phase(name="tokenizing", message="Measuring prompts"))
    train_rows = _within_prompt_limit(train_rows, tokenizer, t.max_prompt_length, data_facts)
    if eval_rows:
        eval_rows = _within_prompt_limit(eval_rows, tokenizer, t.max_prompt_length, {})
    if data_facts.get("long_prompts_dropped"):
        message = (
            f"Left out {data_facts['long_prompts_dropped']} pairs whose prompt is longer than "
            f"train.max_prompt_length ({t.max_prompt_length} tokens)."
        )
        reporter.report(LogLine(message=message, level="warning"))
    from datasets import Dataset

    train_data = Dataset.from_list(train_rows)
    eval_data = Dataset.from_list(eval_rows) if eval_rows else None
    data_facts["train_examples"] = len(train_data)
    data_facts["eval_examples"] = len(eval_data) if eval_data is not None else 0

    # 4. LoRA and trainer. The trainer wraps the model with PEFT; an adapter to continue is
    # loaded trainable instead (TRL then keeps a frozen copy of it as the reference).
    from transformers import PrinterCallback

    peft_config = build_lora_config(config.lora)
    if config.model.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, config.model.adapter, is_trainable=True)
        peft_config = None

    prior = read_marker(resume_from) if resume_from else {}
    clock = StepClock(prior_elapsed=float(prior.get("elapsed_seconds", 0.0)))
    facts = RunFacts(
        method=t.method,
        train_examples=len(train_data),
        eval_examples=len(eval_data) if eval_data is not None else 0,
        output_dir=str(layout.root),
        resumed_from=int(prior["step"]) if "step" in prior else None,
        device=device,
        threads=threads,
    )
    stop_cb, ckpt_cb, progress_cb = training_callbacks(
        reporter, clock, facts, stop=stop, keep_checkpoints=t.save_total_limit
    )
    with library_warnings_silenced():
        trainer_class = _trainer_class(t.method)
        trainer = trainer_class(
            model=model,
            args=build_preference_config(
                config,
                layout.checkpoints,
                device=device,
                model_dtype=model.dtype,
                has_eval=eval_data is not None,
                gradient_checkpointing=speed["gradient_checkpointing"].value,
            ),
            train_dataset=train_data,
            eval_dataset=eval_data,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[stop_cb, ckpt_cb, progress_cb],
        )
    trainer.remove_callback(PrinterCallback)  # it prints raw log dicts; our reporter shows progress

    # 5. Train (from the last complete checkpoint when resuming).
    mark = time.monotonic()
    with library_warnings_silenced():
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        state = trainer.state
        stopped = stop_cb.requested_at is not None and state.global_step < state.max_steps
        if not stopped and eval_data is not None and t.eval_steps is None:
            trainer.evaluate()  # an empty train.eval_steps means "evaluate at the end"
    timings["train"] = time.monotonic() - mark

    # 6. Save the adapter and tokenizer, then the run card: 100% only once they are on disk.
    return finish_run(
        trainer,
        tokenizer,
        config,
        layout,
        reporter,
        stop_cb=stop_cb,
        progress_cb=progress_cb,
        clock=clock,
        data_facts=data_facts,
        timings=timings,
        started=started,
        resumed_from=facts.resumed_from,
        threads=threads,
        device=device,
        speed=speed,
    )


def read_pairs(
    config: RunConfig, reporter: Reporter
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Read, convert, shuffle and split the preference pairs.

    Returns:
        ``(train_rows, eval_rows, facts)``; each row is a pair ``{"prompt": [messages],
        "chosen": [assistant messages], "rejected": [assistant messages]}``, or for KTO on
        labelled replies ``{"prompt": [messages], "completion": [assistant messages], "label":
        bool}`` (``facts`` then counts the good and the bad ones).

    Raises:
        DataError: the rows are not preference data, or labelled replies for DPO or ORPO
            (problem at ``data.format``), or none is valid.
        NotFound, HubUnavailable: the source cannot be found or reached.
    """
    from loralab.data import load_conversations, source_fingerprint

    data = config.data
    method = config.train.method
    reporter.report(Phase(name="preparing_data", message=f"Reading {data.source}"))
    loaded = load_conversations(data, seed=config.train.seed)
    fmt = loaded.detection.format
    if loaded.detection.task != "preference":
        needs = "preference pairs (prompt, chosen, rejected)"
        columns = "prompt, chosen and rejected columns"
        if method == "kto":
            needs += " or replies labelled good or bad (prompt, completion, label)"
            columns += ", or prompt, completion and label columns"
        raise DataError(
            f"{data.source} holds {fmt} rows; {method} needs {needs}.",
            fix=f"use a dataset with {columns}, or train.method: sft",
            problems=[FieldProblem(loc="data.format", message=f"{fmt} data for {method}")],
        )
    unpaired = fmt == "unpaired_preference"
    if unpaired and method != "kto":
        raise DataError(
            f"{data.source} holds replies labelled good or bad, one per row (prompt, completion, "
            f"label); {method} needs a chosen and a rejected reply to the same prompt.",
            fix="use train.method: kto, which learns from labelled replies, or a dataset of "
            "pairs (prompt, chosen, rejected)",
            problems=[FieldProblem(loc="data.format", message=f"unpaired labels for {method}")],
        )
    if loaded.skipped:
        message = f"Skipped {loaded.skipped} invalid rows of {data.source}."
        reporter.report(LogLine(message=message, level="warning"))
    facts: dict[str, Any] = {
        "source": data.source,
        "format": fmt,
        "field_mapping": loaded.detection.field_mapping,
        "fingerprint": source_fingerprint(data.source, split=data.split, subset=data.subset),
        "skipped_rows": loaded.skipped,
    }
    train_rows, eval_rows = list(loaded.train), list(loaded.eval)
    if unpaired:
        train_rows, eval_rows = _unpaired_rows(train_rows), _unpaired_rows(eval_rows)
        facts["desirable_examples"] = sum(r["label"] for r in train_rows)
        facts["undesirable_examples"] = len(train_rows) - facts["desirable_examples"]
        _check_labels(config, facts, reporter)
    return train_rows, eval_rows, facts


def _unpaired_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical labelled conversations -> TRL's unpaired rows (prompt, completion, label)."""
    from loralab.data import split_reply

    out = []
    for row in rows:
        prompt, completion = split_reply(row["messages"])
        out.append({"prompt": prompt, "completion": completion, "label": bool(row["label"])})
    return out


def _check_labels(config: RunConfig, facts: dict[str, Any], reporter: Reporter) -> None:
    """Warn when the good and bad replies are out of balance for the weights."""
    good, bad = facts["desirable_examples"], facts["undesirable_examples"]
    t = config.train
    if not good or not bad:
        which, label = ("bad", "false") if not bad else ("good", "true")
        message = (
            f"No {which} replies (label {label}) in {config.data.source}: KTO learns from the "
            "other kind alone, which TRL advises only with a conservative learning rate."
        )
        reporter.report(LogLine(message=message, level="warning"))
        return
    # The KTO paper (and TRL) advise desirable_weight * good / (undesirable_weight * bad) in
    # [1, 4/3]; outside it one side dominates the loss.
    ratio = (t.desirable_weight * good) / (t.undesirable_weight * bad)
    if not 1.0 <= ratio <= 4 / 3:
        low = t.undesirable_weight * bad / good
        message = (
            f"{good} good and {bad} bad replies: with these weights the good side weighs "
            f"{ratio:.2f}x the bad (1-1.33x is advised); set train.desirable_weight between "
            f"{low:.2f} and {low * 4 / 3:.2f}."
        )
        reporter.report(LogLine(message=message, level="warning"))


def build_preference_config(
    config: RunConfig,
    output_dir,
    *,
    device: str,
    model_dtype: Any,
    has_eval: bool,
    gradient_checkpointing: bool | None = None,
):
    """The TRL config of the run's method (``trl.DPOConfig``, ``ORPOConfig`` or ``KTOConfig``).

    ``gradient_checkpointing`` is the run's decided value; None decides it here
    (``builders.choose_gradient_checkpointing``).

    ``train.max_seq_length`` caps prompt + reply (TRL's ``max_length``, keeping the start).
    """
    t = config.train
    shared = dict(
        **trainer_kwargs(
            config,
            output_dir,
            device=device,
            model_dtype=model_dtype,
            has_eval=has_eval,
            gradient_checkpointing=gradient_checkpointing,
        ),
        max_length=t.max_seq_length,
        beta=t.beta,
        dataset_num_proc=None,
    )
    if t.method == "dpo":
        from trl import DPOConfig

        return DPOConfig(
            **shared,
            loss_type=[t.loss_type],
            label_smoothing=t.label_smoothing,
            truncation_mode="keep_start",
        )
    if t.method == "kto":
        from trl import KTOConfig

        return KTOConfig(
            **shared,
            desirable_weight=t.desirable_weight,
            undesirable_weight=t.undesirable_weight,
        )
    from trl.experimental.orpo import ORPOConfig

    return ORPOConfig(**shared)


def _trainer_class(method: str):
    if method == "dpo":
        from trl import DPOTrainer

        return DPOTrainer
    if method == "kto":
        from trl import KTOTrainer

        return KTOTrainer
    from trl.experimental.orpo import ORPOTrainer

    return ORPOTrainer


def _within_prompt_limit(
    rows: list[dict[str, Any]], tokenizer, limit: int | None, facts: dict[str, Any]
) -> list[dict[str, Any]]:
    if limit is None:
        return rows
    kept = []
    for row in rows:
        ids = tokenizer.apply_chat_template(
            row["prompt"], add_generation_prompt=True, tokenize=True
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # a BatchEncoding in transformers 5
            ids = ids["input_ids"]
        if len(ids) <= limit:
            kept.append(row)
    facts["long_prompts_dropped"] = len(rows) - len(kept)
    if not kept:
        raise DataError(
            f"Every prompt is longer than train.max_prompt_length ({limit} tokens).",
            problems=[
                FieldProblem(loc="train.max_prompt_length", message="no pair is short enough")
            ],
            fix="raise train.max_prompt_length, or clear it",
        )
    return kept
