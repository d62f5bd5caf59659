"""The engine: base models kept loaded, PEFT adapters hot-swapped on them, text generated.

Read top to bottom: a request names a ``ModelTarget``; ``_base_for`` finds its base in the LRU
(or loads it, dropping the least recently used bases until it fits the memory budget);
``_use_adapter`` loads the adapter onto that base once by name (``load_adapter``) and switches
to it (``set_adapter``), or disables every adapter for the base itself; ``_encode`` applies the
chat template; ``_run`` calls ``model.generate`` (greedy or sampled, seeded) with a streamer that
times the first token and a stopping criterion for the stop strings, which are cut from the
text. One request runs at a time (a lock): the seed is torch's global RNG, and one generation
already uses every core. Every generation runs on one long-lived thread, as in a plain script:
torch's intra-op thread pool belongs to the thread that calls it, so a new thread per request
(the HTTP server's) would build a cold pool for each answer.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from loralab.errors import InvalidRequest, ModelError
from loralab.inference.params import Generation, ModelTarget, SamplingParams, check_sampling

__all__ = ["Engine"]

log = logging.getLogger("loralab.inference")

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


@dataclass
class _Base:
    """One loaded base model, with the adapters loaded onto it (name -> path, LRU order)."""

    name: str
    model: Any
    tokenizer: Any
    bytes: int
    adapters: OrderedDict[str, str] = field(default_factory=OrderedDict)
    adapter_ids: dict[str, str] = field(default_factory=dict)  # peft name -> adapter id


def _folder_weight_bytes(base: str) -> int | None:
    """The size of the weight files of a local model folder (None for a hub id)."""
    folder = Path(base)
    if not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.iterdir() if p.name.endswith(_WEIGHT_SUFFIXES))


def _model_bytes(model: Any) -> int:
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _peft_name(adapter_id: str, path: str) -> str:
    # The path is part of the name, so an adapter whose files moved is loaded afresh. PEFT
    # module names must not hold dots.
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    return f"a_{''.join(c if c.isalnum() else '_' for c in adapter_id)}_{digest}"


def _check_messages(messages: list[dict]) -> None:
    if not messages:
        raise InvalidRequest("messages is empty; send at least one message.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise InvalidRequest(f"messages[{i}] needs a role and a content.")
        if not isinstance(m.get("content"), str):
            raise InvalidRequest(f"messages[{i}].content must be text.")


class Engine:
    """Keeps bases loaded within a memory budget and generates with or without an adapter.

    Args:
        memory_budget_bytes: the most weight bytes kept loaded; None for no limit.
        device: ``"cpu"`` or ``"cuda:0"``; None picks the GPU when torch sees one.
        max_adapters_per_base: adapters kept loaded on one base (the least recent goes).
    """

    def __init__(
        self,
        *,
        memory_budget_bytes: int | None = None,
        device: str | None = None,
        max_adapters_per_base: int = 16,
    ) -> None:
        import torch

        self.memory_budget_bytes = memory_budget_bytes
        self.device = device or ("cuda:0" if torch.cuda.is_available() else "cpu")
        self.max_adapters_per_base = max_adapters_per_base
        self._bases: OrderedDict[str, _Base] = OrderedDict()
        self._lock = threading.Lock()
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loralab-generate")
        self.base_loads: dict[str, int] = {}  # how often each base was loaded (tests, status)

    # -- what is loaded ---------------------------------------------------------------------------

    def loaded(self) -> list[dict]:
        """``[{base, adapters: [ids], bytes, device}]``, most recently used last."""
        return [
            {
                "base": b.name,
                "adapters": [b.adapter_ids[n] for n in b.adapters],
                "bytes": b.bytes,
                "device": self.device,
            }
            for b in list(self._bases.values())
        ]

    def _key(self, base: str) -> str:
        path = Path(base)
        return str(path.resolve()) if path.is_dir() else base

    def _drop(self, key: str) -> None:
        entry = self._bases.pop(key)
        log.info("dropping %s (%d MB) from memory", entry.name, entry.bytes >> 20)
        del entry
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def _make_room(self, needed: int, keep: str | None = None) -> None:
        """Drop least recently used bases (never ``keep``) until ``needed`` more bytes fit."""
        budget = self.memory_budget_bytes
        if budget is None:
            return
        for key in [k for k in self._bases if k != keep]:  # least recently used first
            if sum(b.bytes for b in self._bases.values()) + needed <= budget:
                return
            self._drop(key)

    def _over_budget(self, name: str, size: int) -> ModelError:
        return ModelError(
            f"{name} needs {size / 2**20:.0f} MB, more than the inference memory budget "
            f"({self.memory_budget_bytes / 2**20:.0f} MB).",
            code="over_memory_budget",
            fix="Raise LORALAB_INFERENCE_MEMORY_MB, or use a smaller model.",
        )

    def _base_for(self, target: ModelTarget) -> _Base:
        key = self._key(target.base)
        if key in self._bases:
            self._bases.move_to_end(key)
            return self._bases[key]
        estimate = _folder_weight_bytes(key) or 0
        if self.memory_budget_bytes is not None and estimate > self.memory_budget_bytes:
            raise self._over_budget(target.base, estimate)
        self._make_room(estimate)

        from loralab.config import ModelConfig
        from loralab.models import load_model_and_tokenizer

        started = time.perf_counter()
        model, tokenizer = load_model_and_tokenizer(
            ModelConfig(name_or_path=key), for_training=False
        )
        model.to(self.device)
        model.eval()
        size = _model_bytes(model)
        if self.memory_budget_bytes is not None and size > self.memory_budget_bytes:
            del model
            gc.collect()
            raise self._over_budget(target.base, size)
        entry = _Base(name=key, model=model, tokenizer=tokenizer, bytes=size)
        self._bases[key] = entry
        self._make_room(0, keep=key)
        self.base_loads[key] = self.base_loads.get(key, 0) + 1
        log.info("loaded %s in %.1f s (%d MB)", key, time.perf_counter() - started, size >> 20)
        return entry

    # -- adapters ---------------------------------------------------------------------------------

    def _use_adapter(self, entry: _Base, target: ModelTarget) -> contextlib.AbstractContextManager:
        """Switch ``entry`` to the target's adapter (loading it once), or disable adapters for
        the base; returns the context to generate in."""
        from peft import PeftModel

        if target.adapter_id is None:
            if isinstance(entry.model, PeftModel):
                return entry.model.disable_adapter()
            return contextlib.nullcontext()
        assert target.adapter_path is not None
        name = _peft_name(target.adapter_id, target.adapter_path)
        if name not in entry.adapters:
            self._load_adapter(entry, name, target)
        entry.adapters.move_to_end(name)
        entry.model.set_adapter(name)
        return contextlib.nullcontext()

    def _load_adapter(self, entry: _Base, name: str, target: ModelTarget) -> None:
        from peft import PeftModel

        path = target.adapter_path
        if not Path(str(path)).is_dir():
            raise ModelError(
                f"The files of adapter '{target.adapter_id}' are gone ({path}).",
                code="adapter_files_missing",
            )
        try:
            if isinstance(entry.model, PeftModel):
                entry.model.load_adapter(path, adapter_name=name, is_trainable=False)
            else:
                entry.model = PeftModel.from_pretrained(
                    entry.model, path, adapter_name=name, is_trainable=False
                )
        except Exception as exc:  # shape mismatch, bad config: PEFT raises several kinds
            raise ModelError(
                f"Adapter '{target.adapter_id}' does not load onto {entry.name}: "
                f"{str(exc).strip().splitlines()[0][:300]}",
                code="adapter_load_failed",
                fix="Use the base model the adapter was trained on.",
            ) from exc
        entry.model.eval()
        entry.adapters[name] = str(path)
        entry.adapter_ids[name] = str(target.adapter_id)
        while len(entry.adapters) > self.max_adapters_per_base:
            oldest = next(iter(entry.adapters))
            entry.model.delete_adapter(oldest)
            del entry.adapters[oldest]
            entry.adapter_ids.pop(oldest, None)
        entry.bytes = _model_bytes(entry.model)

    # -- prompts ----------------------------------------------------------------------------------

    def _encode(self, tokenizer: Any, messages: list[dict] | None, prompt: str | None) -> list:
        if (messages is None) == (prompt is None):
            raise InvalidRequest("Send either messages or a prompt.")
        if prompt is not None:
            if not isinstance(prompt, str) or not prompt:
                raise InvalidRequest("prompt is empty.")
            return list(tokenizer(prompt)["input_ids"])
        _check_messages(messages or [])
        if not tokenizer.chat_template:
            raise InvalidRequest(
                "This model has no chat template, so it cannot take messages.",
                code="no_chat_template",
                fix="Send a raw prompt (/v1/completions), or register the model with a template.",
            )
        try:
            text = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
        except Exception as exc:  # a template that raises on these roles, say
            raise InvalidRequest(f"The chat template refused the messages: {exc}") from exc
        # The template writes the special tokens (a BOS) itself.
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- generation -------------------------------------------------------------------------------

    def generate(
        self,
        target: ModelTarget,
        *,
        messages: list[dict] | None = None,
        prompt: str | None = None,
        params: SamplingParams = SamplingParams(),
    ) -> Generation:
        """Answer in one piece. Raises InvalidRequest / ModelError for bad input."""
        started = time.perf_counter()
        check_sampling(params)
        with self._lock:
            entry = self._base_for(target)
            context = self._use_adapter(entry, target)
            ids = self._encode(entry.tokenizer, messages, prompt)
            with context:
                return self._runner.submit(self._run, entry, target, ids, params, started).result()

    def stream(
        self,
        target: ModelTarget,
        *,
        messages: list[dict] | None = None,
        prompt: str | None = None,
        params: SamplingParams = SamplingParams(),
    ) -> Iterator[str | Generation]:
        """Text deltas, then one final ``Generation``. The first item is ``""``, yielded once
        the model is loaded and the prompt accepted (errors come before it)."""
        started = time.perf_counter()
        check_sampling(params)
        with self._lock:
            entry = self._base_for(target)
            context = self._use_adapter(entry, target)
            ids = self._encode(entry.tokenizer, messages, prompt)
            yield ""
            with context:
                yield from self._stream_run(entry, target, ids, params, started)

    def _stream_run(self, entry, target, ids, params, started) -> Iterator[str | Generation]:
        tokens: queue.Queue = queue.Queue()
        cancel = threading.Event()
        done: dict[str, Any] = {}

        def work() -> None:
            try:
                done["result"] = self._run(entry, target, ids, params, started, tokens.put, cancel)
            except BaseException as exc:  # handed to the consumer, raised there
                done["error"] = exc
            finally:
                tokens.put(None)

        running = self._runner.submit(work)
        tokenizer = entry.tokenizer
        hold = max((len(s) for s in params.stop), default=1) - 1
        new: list[int] = []
        sent = 0
        try:
            finished = False
            while not finished:
                item = tokens.get()
                while True:  # take every token waiting, decode once
                    if item is None:
                        finished = True
                        break
                    new.extend(item)
                    try:
                        item = tokens.get_nowait()
                    except queue.Empty:
                        break
                if finished:
                    break
                text = tokenizer.decode(new, skip_special_tokens=True)
                if text.endswith("\ufffd"):  # half a character: wait for the rest
                    continue
                cut = _find_stop(text, params.stop)
                safe = cut if cut is not None else max(sent, len(text) - hold)
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            running.result()
            if "error" in done:
                raise done["error"]
            result: Generation = done["result"]
            # The deltas so far are a prefix of the final text (held back before any stop).
            if len(result.text) > sent:
                yield result.text[sent:]
            yield result
        finally:
            cancel.set()
            wait_for([running], timeout=60)

    def _run(
        self,
        entry: _Base,
        target: ModelTarget,
        ids: list[int],
        params: SamplingParams,
        started: float,
        on_tokens: Callable[[list[int]], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Generation:
        import torch
        from transformers import StoppingCriteriaList

        model, tokenizer = entry.model, entry.tokenizer
        limit = getattr(model.config, "max_position_embeddings", None)
        max_new = params.max_tokens
        if limit:
            if len(ids) >= limit:
                raise InvalidRequest(
                    f"The prompt is {len(ids)} tokens; this model reads at most {limit}.",
                    code="prompt_too_long",
                )
            max_new = min(max_new, limit - len(ids))
        input_ids = torch.tensor([ids], device=self.device)
        tap = _Tap(on_tokens)
        criteria = StoppingCriteriaList()
        if params.stop:
            criteria.append(_StopStrings(tokenizer, params.stop, len(ids)))
        if cancel is not None:
            criteria.append(_Cancelled(cancel))
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": max_new,
            "pad_token_id": tokenizer.pad_token_id,
            "streamer": tap,
            "stopping_criteria": criteria,
        }
        if params.temperature > 0:
            kwargs.update(
                do_sample=True,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k,
            )
            if params.seed is not None:
                torch.manual_seed(params.seed)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = model.generate(**kwargs)
        finished = time.perf_counter()
        new = out[0, len(ids) :].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True)
        cut = _find_stop(text, params.stop)
        eos = _eos_ids(model, tokenizer)
        if cut is not None:
            text, reason = text[:cut], "stop"
        elif new and new[-1] in eos:
            reason = "stop"
        else:
            reason = "length"
        first = tap.times[0] if tap.times else finished
        n = len(new)
        decode_s = (tap.times[-1] - first) if len(tap.times) > 1 else 0.0
        rate = (n - 1) / decode_s if n > 1 and decode_s > 0 else n / max(finished - started, 1e-9)
        return Generation(
            text=text,
            finish_reason=reason,
            prompt_tokens=len(ids),
            completion_tokens=n,
            latency_s=round(finished - started, 6),
            ttft_s=round(first - started, 6),
            tokens_per_second=round(rate, 3),
            base=entry.name,
            adapter_id=target.adapter_id,
            device=self.device,
        )


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    eos = eos if eos is not None else tokenizer.eos_token_id
    if eos is None:
        return set()
    return set(eos) if isinstance(eos, (list, tuple)) else {int(eos)}


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


class _Tap(BaseStreamer):
    """A transformers streamer: times each new token and hands its ids on (skips the prompt)."""

    def __init__(self, on_tokens: Callable[[list[int]], None] | None) -> None:
        super().__init__()
        self.on_tokens = on_tokens
        self.prompt_seen = False
        self.times: list[float] = []

    def put(self, value) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter())
        if self.on_tokens is not None:
            self.on_tokens(value.reshape(-1).tolist())

    def end(self) -> None:
        pass


class _StopStrings(StoppingCriteria):
    """Stops generation once the decoded completion holds one of the stop strings."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stops = stops
        self.prompt_len = prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        text = self.tokenizer.decode(input_ids[0, self.prompt_len :], skip_special_tokens=True)
        hit = _find_stop(text, self.stops) is not None
        return torch.full((input_ids.shape[0],), hit, dtype=torch.bool, device=input_ids.device)


class _Cancelled(StoppingCriteria):
    """Stops generation when the reader went away."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        hit = self.event.is_set()
        return torch.full((input_ids.shape[0],), hit, dtype=torch.bool, device=input_ids.device)
