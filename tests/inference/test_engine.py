"""The engine on the tiny model: hot-swapped adapters answer as their merged models, the base as
plain ``generate``; streaming, stop strings, seeds; the LRU; bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from loralab.errors import InvalidRequest, ModelError
from loralab.inference import Engine, Generation, ModelTarget, SamplingParams

from .support import GREEDY_TOKENS, MESSAGES, chat_ids, copy_model, reference_text

GREEDY = SamplingParams(max_tokens=GREEDY_TOKENS)


def _targets(tiny_model: Path, lora_a: Path, lora_b: Path) -> dict[str, ModelTarget]:
    return {
        "base": ModelTarget(str(tiny_model)),
        "a": ModelTarget(str(tiny_model), "a", str(lora_a)),
        "b": ModelTarget(str(tiny_model), "b", str(lora_b)),
    }


def test_hot_swapped_adapters_match_merged_models_and_base_matches_generate(
    engine, tiny_model, lora_a, lora_b
):
    ids = chat_ids(tiny_model)
    expected = {
        "base": reference_text(tiny_model, None, ids, GREEDY_TOKENS),
        "a": reference_text(tiny_model, lora_a, ids, GREEDY_TOKENS),
        "b": reference_text(tiny_model, lora_b, ids, GREEDY_TOKENS),
    }
    assert len(set(expected.values())) == 3, "the adapters must change the answers"
    targets = _targets(tiny_model, lora_a, lora_b)
    for name in ["a", "b", "a", "base", "b", "base", "a"]:  # back and forth
        got = engine.generate(targets[name], messages=MESSAGES, params=GREEDY)
        assert got.text == expected[name], name
        assert got.adapter_id == (None if name == "base" else name)
        assert got.prompt_tokens == len(ids)
    # Switching never reloaded the base: one load, both adapters on it.
    assert engine.base_loads == {str(tiny_model.resolve()): 1}
    [loaded] = engine.loaded()
    assert loaded["adapters"] == ["b", "a"]  # most recently used last
    assert loaded["device"] == "cpu"


def test_a_generation_reports_its_timings(engine, tiny_model, lora_a):
    got = engine.generate(
        ModelTarget(str(tiny_model), "a", str(lora_a)),
        prompt="The sea",
        params=SamplingParams(max_tokens=8),
    )
    assert got.finish_reason in ("stop", "length")
    assert 0 < got.ttft_s <= got.latency_s
    assert got.tokens_per_second > 0
    assert got.completion_tokens <= 8


def test_streamed_deltas_add_up_to_the_blocking_answer(engine, tiny_model, lora_b):
    target = ModelTarget(str(tiny_model), "b", str(lora_b))
    whole = engine.generate(target, messages=MESSAGES, params=GREEDY)
    items = list(engine.stream(target, messages=MESSAGES, params=GREEDY))
    *deltas, final = items
    assert isinstance(final, Generation)
    assert "".join(deltas) == whole.text == final.text
    assert len([d for d in deltas if d]) > 1  # it really streamed


@pytest.mark.parametrize("streamed", [False, True])
def test_stop_strings_are_cut_from_the_answer(engine, tiny_model, lora_a, streamed):
    target = ModelTarget(str(tiny_model), "a", str(lora_a))
    whole = engine.generate(target, messages=MESSAGES, params=GREEDY).text
    stop = whole[len(whole) // 2 : len(whole) // 2 + 3]
    assert stop
    params = SamplingParams(max_tokens=GREEDY_TOKENS, stop=(stop,))
    if streamed:
        *deltas, final = list(engine.stream(target, messages=MESSAGES, params=params))
        assert "".join(deltas) == final.text
    else:
        final = engine.generate(target, messages=MESSAGES, params=params)
    assert final.text == whole[: whole.find(stop)]
    assert stop not in final.text
    assert final.finish_reason == "stop"


def test_sampling_with_a_seed_repeats_and_another_seed_differs(engine, tiny_model, lora_a):
    target = ModelTarget(str(tiny_model), "a", str(lora_a))

    def sample(seed: int) -> str:
        params = SamplingParams(temperature=1.5, top_p=0.95, top_k=50, max_tokens=16, seed=seed)
        return engine.generate(target, prompt="The sea is", params=params).text

    assert sample(7) == sample(7)
    assert len({sample(7), sample(8), sample(9)}) > 1


def test_bad_input_is_refused_and_the_engine_keeps_working(engine, tiny_model, lora_a, tmp_path):
    base = ModelTarget(str(tiny_model))
    with pytest.raises(InvalidRequest):
        engine.generate(base, messages=[], params=GREEDY)
    with pytest.raises(InvalidRequest):
        engine.generate(base, messages=MESSAGES, prompt="both", params=GREEDY)
    with pytest.raises(InvalidRequest) as bad:
        engine.generate(base, prompt="x", params=SamplingParams(top_p=2.0, max_tokens=0))
    assert {p.loc for p in bad.value.problems} == {"top_p", "max_tokens"}
    with pytest.raises(ModelError) as gone:
        engine.generate(ModelTarget(str(tiny_model), "gone", str(tmp_path / "nope")), prompt="x")
    assert gone.value.code == "adapter_files_missing"
    with pytest.raises(ModelError):
        engine.generate(ModelTarget(str(tmp_path / "no-model")), prompt="x")
    assert engine.generate(base, prompt="still here", params=GREEDY).completion_tokens > 0


def test_the_least_recently_used_base_is_dropped_over_the_budget(tiny_model, tmp_path):
    one, two, three = (copy_model(tiny_model, tmp_path / n) for n in ("one", "two", "three"))
    probe = Engine()
    probe.generate(ModelTarget(str(one)), prompt="hi", params=SamplingParams(max_tokens=2))
    size = probe.loaded()[0]["bytes"]
    del probe

    engine = Engine(memory_budget_bytes=int(size * 2.5))  # room for two
    small = SamplingParams(max_tokens=2)

    def bases() -> list[str]:
        return [Path(b["base"]).name for b in engine.loaded()]

    engine.generate(ModelTarget(str(one)), prompt="hi", params=small)
    engine.generate(ModelTarget(str(two)), prompt="hi", params=small)
    engine.generate(ModelTarget(str(one)), prompt="hi", params=small)  # one is now the newer
    assert bases() == ["two", "one"]
    engine.generate(ModelTarget(str(three)), prompt="hi", params=small)
    assert bases() == ["one", "three"]  # two was the least recently used
    engine.generate(ModelTarget(str(two)), prompt="hi", params=small)
    assert bases() == ["three", "two"]
    assert engine.base_loads[str(two.resolve())] == 2

    tight = Engine(memory_budget_bytes=size // 2)
    with pytest.raises(ModelError) as over:
        tight.generate(ModelTarget(str(one)), prompt="hi", params=small)
    assert over.value.code == "over_memory_budget"
    assert tight.loaded() == []
