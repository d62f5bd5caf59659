"""The declarative rules, weights, labels, the TRL call shape and submit-time checks."""

from __future__ import annotations

import pytest

from loralab.config import Markers, RewardSpec
from loralab.errors import ConfigError
from loralab.rewards import (
    Sample,
    build_reward_funcs,
    check_reward_specs,
    reward_weights,
    score_samples,
    system_prompt,
)

M = Markers()


def rule(**params) -> RewardSpec:
    return RewardSpec(name="rule", params=params)


@pytest.mark.parametrize(
    ("params", "completion", "row", "expected"),
    [
        ({"kind": "regex", "pattern": r"^Answer: \d+$"}, "Answer: 42", {}, 1.0),
        ({"kind": "regex", "pattern": r"^Answer: \d+$"}, "answer: 42", {}, 0.0),
        ({"kind": "regex", "pattern": r"^answer", "ignore_case": True}, "Answer: 4", {}, 1.0),
        ({"kind": "regex", "pattern": "x", "score": 0.3}, "xyz", {}, 0.3),
        ({"kind": "contains", "value": "Paris"}, "It is Paris.", {}, 1.0),
        ({"kind": "contains", "value": "paris"}, "It is Paris.", {}, 0.0),
        ({"kind": "contains", "field": "city"}, "It is Rome.", {"city": "Rome"}, 1.0),
        ({"kind": "contains", "field": "city"}, "It is Rome.", {}, 0.0),
        ({"kind": "numeric_equal", "value": 1000}, "<SOLUTION>1,000</SOLUTION>", {}, 1.0),
        ({"kind": "numeric_equal", "field": "answer"}, "#### 18", {"answer": "x\n#### 18"}, 1.0),
        ({"kind": "numeric_equal", "value": "18"}, "#### 17", {}, 0.0),
        ({"kind": "length_range", "min": 2, "max": 5}, "abcd", {}, 1.0),
        ({"kind": "length_range", "max": 3}, "abcd", {}, 0.0),
        ({"kind": "length_range", "min": 2, "unit": "words"}, "one two", {}, 1.0),
    ],
)
def test_rule_scores(params, completion, row, expected):
    (func,) = build_reward_funcs([rule(**params)], M)
    assert func(["p"], [completion], **{k: [v] for k, v in row.items()}) == [expected]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"kind": "regex"}, "rewards.0.params"),
        ({"kind": "regex", "pattern": "("}, "rewards.0.params"),
        ({"kind": "contains"}, "rewards.0.params"),
        ({"kind": "numeric_equal", "value": "abc"}, "rewards.0.params"),
        ({"kind": "length_range"}, "rewards.0.params"),
        ({"kind": "length_range", "min": 5, "max": 1}, "rewards.0.params"),
        ({"kind": "sql"}, "rewards.0.params.kind"),
        ({"kind": "regex", "pattern": "x", "import": "os"}, "rewards.0.params.import"),
    ],
)
def test_invalid_rule_is_reported_at_its_params(params, loc):
    problems = check_reward_specs([rule(**params)], "rewards")
    assert [p.loc for p in problems] == [loc]


def test_rules_combine_by_weights():
    specs = [
        RewardSpec(name="rule", weight=2.0, params={"kind": "contains", "value": "a"}),
        RewardSpec(name="rule", weight=0.5, params={"kind": "contains", "value": "b"}),
        RewardSpec(name="rule", weight=-1.0, params={"kind": "regex", "pattern": "c"}),
    ]
    assert reward_weights(specs) == [2.0, 0.5, -1.0]
    scored = score_samples(specs, M, [Sample("", "ab"), Sample("", "abc"), Sample("", "x")])
    assert [s["total"] for s in scored] == [2.5, 1.5, 0.0]
    assert list(scored[0]["scores"]) == ["rule:contains", "rule:contains#2", "rule:regex"]


def test_labels_are_stable_names():
    funcs = build_reward_funcs(
        [
            RewardSpec(name="math_answer"),
            RewardSpec(name="format"),
            rule(kind="regex", pattern="x"),
        ],
        M,
    )
    assert [f.__name__ for f in funcs] == ["math_answer", "format", "rule:regex"]


COMPLETION = "<start_working_out>4*3<end_working_out><SOLUTION>12</SOLUTION>"


@pytest.mark.parametrize(
    ("prompts", "completions"),
    [
        (["What is 4*3?", "What is 5*3?"], [COMPLETION, "13"]),
        (
            [[{"role": "system", "content": "sys"}, {"role": "user", "content": "What is 4*3?"}]]
            * 2,
            [
                [{"role": "assistant", "content": COMPLETION}],
                [{"role": "assistant", "content": "13"}],
            ],
        ),
        (
            [[{"role": "user", "content": [{"type": "text", "text": "What is 4*3?"}]}]] * 2,
            [
                [{"role": "assistant", "content": [{"type": "text", "text": COMPLETION}]}],
                [{"role": "assistant", "content": "13"}],
            ],
        ),
    ],
    ids=["strings", "chat", "content-parts"],
)
def test_trl_call_shape(prompts, completions):
    funcs = build_reward_funcs([RewardSpec(name="math_answer"), RewardSpec(name="format")], M)
    kwargs = {
        "answer": ["#### 12", "#### 15"],
        "question": ["What is 4*3?", "What is 5*3?"],
        "completion_ids": [[1, 2], [3]],
        "trainer_state": object(),
    }
    assert funcs[0](prompts=prompts, completions=completions, **kwargs) == [1.0, 0.0]
    assert funcs[1](prompts, completions, **kwargs) == [1.0, 0.0]


def test_reward_sees_dataset_columns_per_completion():
    (func,) = build_reward_funcs([rule(kind="contains", field="keyword")], M)
    assert func(["", "", ""], ["red car", "blue car", "red"], keyword=["red", "red", "blue"]) == [
        1.0,
        0.0,
        0.0,
    ]


def test_unknown_name_is_a_problem_at_its_name():
    problems = check_reward_specs([RewardSpec(name="format"), RewardSpec(name="nope")])
    assert [p.loc for p in problems] == ["train.rewards.1.name"]
    assert "math_answer" in (problems[0].fix or "")


def test_python_reward_is_refused_while_custom_code_is_disabled():
    specs = [RewardSpec(name="python", params={"code": "def reward(p, c, **r):\n    return 1"})]
    assert [p.loc for p in check_reward_specs(specs)] == ["train.rewards.0.name"]
    with pytest.raises(ConfigError) as err:
        build_reward_funcs(specs, M)
    assert err.value.problems[0].loc == "rewards.0.name"


def test_code_tests_count_as_custom_code():
    specs = [RewardSpec(name="code", params={"tests": ["assert f() == 1"]})]
    assert [p.loc for p in check_reward_specs(specs)] == ["train.rewards.0.params.tests"]
    assert check_reward_specs([RewardSpec(name="code")]) == []


def test_bad_params_are_reported_with_their_field():
    problems = check_reward_specs(
        [RewardSpec(name="length", params={"target": 0, "units": "words"})], "rewards"
    )
    assert sorted(p.loc for p in problems) == ["rewards.0.params.target", "rewards.0.params.units"]


def test_system_prompt_names_the_markers():
    text = system_prompt(Markers(reasoning_start="<think>", solution_end="</answer>"))
    assert "<think>" in text and "</answer>" in text and "<SOLUTION>" in text
