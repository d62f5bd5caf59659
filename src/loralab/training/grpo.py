"""Reinforcement learning with rewards (GRPO, and GSPO with sequence-level ratios), top to bottom:

    prompts + reference answers -> model + tokenizer
    -> (optional) SFT warm-up on the reference answers in the markers' format
    -> reward functions from ``loralab.rewards`` -> trl.GRPOConfig + GRPOTrainer.train
       (stop/resume/checkpoint callbacks) -> adapter/ + tokenizer + run card

The rows are the SFT formats' conversations: the messages before the last assistant turn are the
prompt, the last assistant turn is the reference answer, handed to every reward function as the
``answer`` column (``f(prompts, completions, answer=[...], **kwargs)``). With
``train.system_prompt_template`` the markers' system prompt (``loralab.rewards.system_prompt``)
goes first, so the model is asked for the format the rewards look for.

The warm-up is SFT's own pieces (``tokenize_conversations``, ``build_sft_config``, ``SFTTrainer``)
on the same model; GRPO then continues the warmed-up adapter. Its events carry
``stage="warmup"``. ``beta`` > 0 adds a KL penalty against a reference: the base with the adapter
switched off, or (after a warm-up) TRL's frozen copy of the warmed-up adapter; never a second copy
of the base weights. A resumed run continues from its GRPO checkpoint and skips the warm-up.
"""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

from loralab.config import RunConfig, SFTConfig, TrainBase
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
from loralab.training.sft_data import read_conversations, tokenize_conversations, write_heldout

__all__ = ["build_grpo_config", "prompt_rows", "run_grpo", "warmup_conversations"]


def run_grpo(
    config: RunConfig,
    reporter: Reporter,
    *,
    resume: bool = False,
    stop: StopEvent | None = None,
) -> RunResult:
    """Train a LoRA adapter with GRPO on prompts scored by ``config.train.rewards``.

    See ``loralab.training.train`` for the contract.

    Raises:
        DataError: preference pairs, or no row with a prompt and a reference answer.
        ConfigError: an unknown reward preset or bad reward params (from ``loralab.rewards``).
    """
    from loralab.models import load_model_and_tokenizer
    from loralab.rewards import build_reward_funcs, reward_weights, system_prompt

    started = time.monotonic()
    timings: dict[str, float] = {}
    t = config.train
    layout = RunLayout.at(config.output.dir)
    resume_from = prepare_output_dir(layout, config, resume=resume, reporter=reporter)
    device = training_device()
    speed: dict[str, Choice | ThreadChoice] = {"threads": choose_threads(t.cpu_threads, device)}
    threads = apply_threads(speed["threads"])

    # 1. Prompts and reference answers, and the reward functions: both fail in seconds.
    mark = time.monotonic()
    conversations = read_conversations(config.data, seed=t.seed, reporter=reporter)
    if conversations.eval:  # kept with the run, so an evaluation can use the same rows
        write_heldout(layout.heldout, conversations.eval)
    system = system_prompt(t.markers) if t.system_prompt_template else None
    rows = prompt_rows(conversations.train, system)
    # Custom (sandboxed) rewards only where the process's settings enable them: the server
    # passes LORALAB_ALLOW_CUSTOM_REWARDS to its workers; `loralab train` reads it too.
    from loralab.config import Settings

    allow_custom = Settings().allow_custom_rewards
    reward_funcs = build_reward_funcs(t.rewards, t.markers, allow_custom=allow_custom)
    data_facts = {**conversations.facts, "train_examples": len(rows), "eval_examples": 0}
    timings["read_data"] = time.monotonic() - mark
    if t.eval_steps is not None or conversations.eval:
        message = "GRPO does not evaluate during training; the held-out rows are kept for later."
        reporter.report(LogLine(message=message))

    # 2. Model and tokenizer.
    reporter.report(Phase(name="loading_model", message=f"Loading {config.model.name_or_path}"))
    mark = time.monotonic()
    model, tokenizer = load_model_and_tokenizer(config.model, for_training=True)
    timings["load_model"] = time.monotonic() - mark
    # After loading: a hub model's size is known once its config is in the cache.
    speed["gradient_checkpointing"] = choose_gradient_checkpointing(config, device)
    if stop_requested(stop):
        return stopped_before_training(layout, reporter)

    # 3. LoRA: an adapter to continue, or a new one (wrapped by the first trainer).
    peft_config = build_lora_config(config.lora)
    if config.model.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, config.model.adapter, is_trainable=True)
        peft_config = None

    # 4. The SFT warm-up, unless resuming (the GRPO checkpoint already holds what it taught).
    if t.warmup is not None and resume_from is None:
        mark = time.monotonic()
        model = _warm_up(
            config, model, tokenizer, rows, peft_config, layout, reporter, device, threads, stop
        )
        peft_config = None  # the model is a PeftModel now
        timings["warmup"] = time.monotonic() - mark
        if stop_requested(stop):
            return stopped_before_training(layout, reporter)

    # 5. The GRPO trainer.
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOTrainer

    prior = read_marker(resume_from) if resume_from else {}
    clock = StepClock(prior_elapsed=float(prior.get("elapsed_seconds", 0.0)))
    facts = RunFacts(
        method="grpo",
        train_examples=len(rows),
        eval_examples=0,
        output_dir=str(layout.root),
        resumed_from=int(prior["step"]) if "step" in prior else None,
        device=device,
        threads=threads,
    )
    stop_cb, ckpt_cb, progress_cb = training_callbacks(
        reporter, clock, facts, stop=stop, keep_checkpoints=t.save_total_limit
    )
    with library_warnings_silenced():
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward_funcs,
            args=build_grpo_config(
                config,
                layout.checkpoints,
                device=device,
                model_dtype=model.dtype,
                weights=reward_weights(t.rewards),
                gradient_checkpointing=speed["gradient_checkpointing"].value,
            ),
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[stop_cb, ckpt_cb, progress_cb],
        )
    trainer.remove_callback(PrinterCallback)

    # 6. Train (from the last complete checkpoint when resuming).
    mark = time.monotonic()
    with library_warnings_silenced():
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    timings["train"] = time.monotonic() - mark

    # 7. Save the adapter and tokenizer, then the run card.
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


def build_grpo_config(
    config: RunConfig,
    output_dir,
    *,
    device: str,
    model_dtype: Any,
    weights: list[float],
    gradient_checkpointing: bool | None = None,
):
    """The ``trl.GRPOConfig`` for this run: the shared trainer arguments plus sampling, the KL
    and clipping settings, the loss and the reward weights. No evaluation during training.

    ``train.batch_size`` counts prompts: TRL's per-device batch is ``batch_size x
    num_generations`` answers, and one generation round (``gradient_accumulation_steps``
    micro-batches) covers ``batch_size x gradient_accumulation_steps`` prompts.
    ``gradient_checkpointing`` is the run's decided value; None decides it here.
    """
    from trl import GRPOConfig

    t = config.train
    shared = trainer_kwargs(
        config,
        output_dir,
        device=device,
        model_dtype=model_dtype,
        has_eval=False,
        gradient_checkpointing=gradient_checkpointing,
    )
    # Our batch_size counts prompts; TRL's counts answers (num_generations per prompt).
    shared["per_device_train_batch_size"] = t.batch_size * t.num_generations
    shared["per_device_eval_batch_size"] = t.batch_size * t.num_generations
    return GRPOConfig(
        **shared,
        num_generations=t.num_generations,
        max_completion_length=t.max_completion_length,
        temperature=t.temperature,
        top_p=t.top_p,
        beta=t.beta,
        epsilon=t.epsilon,
        epsilon_high=t.epsilon_high,
        scale_rewards=t.scale_rewards,
        loss_type=t.loss_type,
        importance_sampling_level=t.importance_sampling_level,
        reward_weights=weights,
        log_completions=False,
    )


def prompt_rows(conversations: list[dict[str, Any]], system: str | None) -> list[dict[str, Any]]:
    """``{"prompt": [messages], "answer": str}`` rows: the messages before the last assistant
    turn, and that turn's text as the reference answer. ``system`` goes first when given (merged
    with a system message the row already has).

    Raises:
        DataError: no row has a prompt before its last assistant turn.
    """
    out = []
    for row in conversations:
        messages = row["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        prompt = [dict(m) for m in messages[:last]]
        if not any(m["role"] == "user" for m in prompt):
            continue
        if system:
            if prompt[0]["role"] == "system":
                prompt[0]["content"] = f"{system}\n\n{prompt[0]['content']}"
            else:
                prompt.insert(0, {"role": "system", "content": system})
        out.append({"prompt": prompt, "answer": messages[last]["content"]})
    if not out:
        raise DataError(
            "No row has a user prompt before its answer; GRPO needs prompts.",
            problems=[FieldProblem(loc="data.field_mapping", message="no prompts found")],
            fix="map a question column to the user turn and an answer column to the reply",
        )
    return out


def warmup_conversations(rows: list[dict[str, Any]], markers, limit: int | None):
    """SFT rows that answer each prompt with its reference in the markers' format: the working
    out between the reasoning markers, the final answer (GSM8K's ``#### N``, else the last line)
    between the solution markers."""
    out = []
    for row in rows[:limit] if limit else rows:
        reasoning, solution = _split_reference(row["answer"])
        reply = (
            f"{markers.reasoning_start}{reasoning}{markers.reasoning_end}"
            f"{markers.solution_start}{solution}{markers.solution_end}"
        )
        out.append({"messages": [*row["prompt"], {"role": "assistant", "content": reply}]})
    return out


def _split_reference(answer: str) -> tuple[str, str]:
    text = answer.strip()
    if "####" in text:
        reasoning, _, solution = text.rpartition("####")
    else:
        reasoning, _, solution = text.rpartition("\n")
    reasoning = re.sub(r"<<[^>]*>>", "", reasoning).strip()  # GSM8K's calculator annotations
    return reasoning, solution.strip() or text


def _warm_up(config, model, tokenizer, rows, peft_config, layout, reporter, device, threads, stop):
    """Run SFT on ``warmup_conversations`` and return the trained PeftModel."""
    from transformers import PrinterCallback
    from trl import SFTTrainer

    from loralab.training.sft import build_sft_config

    t, w = config.train, config.train.warmup
    shared = {name: getattr(t, name) for name in TrainBase.model_fields}
    sft_train = SFTConfig(
        **{
            **shared,
            "num_epochs": w.epochs,
            "learning_rate": w.learning_rate,
            "max_steps": None,
            "save_steps": 10**9,  # no checkpoints: a stopped warm-up starts again
        }
    )
    sft_config = config.model_copy(update={"train": sft_train})
    data = tokenize_conversations(
        warmup_conversations(rows, t.markers, w.max_samples),
        tokenizer,
        max_length=t.max_seq_length,
        assistant_only_loss=True,
    )
    clock = StepClock()
    facts = RunFacts(
        method="grpo",
        train_examples=len(data.dataset),
        eval_examples=0,
        output_dir=str(layout.root),
        resumed_from=None,
        device=device,
        threads=threads,
        stage="warmup",
    )
    stop_cb, ckpt_cb, progress_cb = training_callbacks(
        reporter, clock, facts, stop=stop, keep_checkpoints=1
    )
    with library_warnings_silenced():
        trainer = SFTTrainer(
            model=model,
            args=build_sft_config(
                sft_config,
                layout.root / "warmup",
                device=device,
                model_dtype=model.dtype,
                has_eval=False,
            ),
            train_dataset=data.dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[stop_cb, progress_cb],  # no checkpoints to mark
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    shutil.rmtree(layout.root / "warmup", ignore_errors=True)  # its end-of-run checkpoint
    return trainer.model
