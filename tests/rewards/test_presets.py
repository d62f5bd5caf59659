"""Each preset on known good and bad completions, with the score it must give."""

from __future__ import annotations

import pytest

from loralab.config import Markers, RewardSpec
from loralab.rewards import PRESETS, build_reward_funcs, extract_answer, parse_number

M = Markers()
FULL = "<start_working_out>{r}<end_working_out><SOLUTION>{s}</SOLUTION>"


def full(reasoning: str = "6 times 12 is 72", solution: str = "72") -> str:
    return FULL.format(r=reasoning, s=solution)


GSM8K_ANSWER = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 1,000"

CASES = [
    # (preset, params, completion, row, expected)
    ("math_answer", {}, full(solution="1000"), {"answer": GSM8K_ANSWER}, 1.0),
    ("math_answer", {}, full(solution="1,000.0"), {"answer": GSM8K_ANSWER}, 1.0),
    ("math_answer", {}, full(solution="$1,000"), {"answer": GSM8K_ANSWER}, 1.0),
    ("math_answer", {}, "so the answer is \\boxed{1000}", {"answer": "1000"}, 1.0),
    ("math_answer", {}, "working...\n#### 1000", {"answer": "\\boxed{1,000}"}, 1.0),
    ("math_answer", {}, full(solution="3/4"), {"answer": "0.75"}, 1.0),
    ("math_answer", {}, full(solution="999"), {"answer": GSM8K_ANSWER}, 0.0),
    ("math_answer", {}, "I think it's about 1000", {"answer": GSM8K_ANSWER}, 0.0),
    ("math_answer", {}, full(solution="1000"), {}, 0.0),
    ("math_answer", {"field": "expected_answer"}, full(solution="7"), {"expected_answer": 7}, 1.0),
    ("format", {}, full(), {}, 1.0),
    ("format", {}, full(solution="  "), {}, 0.75),
    ("format", {}, "<start_working_out>x<end_working_out>", {}, 0.5),
    ("format", {}, "<end_working_out>x<start_working_out>", {}, 0.25),
    ("format", {}, "just 72", {}, 0.0),
    ("format", {"strict": True}, "<start_working_out>x<end_working_out>", {}, 0.0),
    ("format", {"strict": True}, full(), {}, 1.0),
    ("format", {}, full() + "<SOLUTION>again</SOLUTION>", {}, 0.5),
    ("reasoning_length", {"min_words": 4, "max_words": 8}, full("a b c d e"), {}, 1.0),
    ("reasoning_length", {"min_words": 4, "max_words": 8}, full("a b"), {}, 0.5),
    ("reasoning_length", {"min_words": 1, "max_words": 2}, full("a b c d"), {}, 0.5),
    ("reasoning_length", {}, "no markers here", {}, 0.0),
    ("code", {}, "```python\ndef add(a, b):\n    return a + b\n```", {}, 1.0),
    ("code", {}, "def add(a, b) return a + b", {}, 0.0),
    ("json_valid", {}, '{"name": "Ada", "age": 36}', {}, 1.0),
    ("json_valid", {}, 'Here you go:\n```json\n{"a": [1, 2]}\n```', {}, 1.0),
    ("json_valid", {}, "{name: Ada}", {}, 0.0),
    (
        "json_schema",
        {"json_schema": {"type": "object", "required": ["name"]}},
        '{"name": "A"}',
        {},
        1.0,
    ),
    (
        "json_schema",
        {"json_schema": {"type": "object", "required": ["name"]}},
        '{"age": 3}',
        {},
        0.5,
    ),
    ("json_schema", {"json_schema": {"type": "object"}}, "not json", {}, 0.0),
    (
        "json_schema",
        {
            "json_schema": {
                "type": "object",
                "properties": {"age": {"type": "integer", "minimum": 0}},
            }
        },
        '{"age": -1}',
        {},
        0.5,
    ),
    ("length", {"target": 4}, "one two three four", {}, 1.0),
    ("length", {"target": 4}, "one two", {}, 0.5),
    ("length", {"target": 4}, "a b c d e f g h i j", {}, 0.0),
    ("length", {"target": 10, "unit": "chars"}, "abcde", {}, 0.5),
    ("exact_match", {}, "Paris.", {"answer": "paris"}, 1.0),
    ("exact_match", {}, full(solution="Paris"), {"answer": "Paris"}, 1.0),
    ("exact_match", {}, "It is Paris", {"answer": "Paris"}, 0.0),
    (
        "exact_match",
        {"field": "answers"},
        "Denver",
        {"answers": {"text": ["Denver Broncos", "Denver"]}},
        1.0,
    ),
    ("token_f1", {}, "the cat sat", {"answer": "the cat sat"}, 1.0),
    ("token_f1", {}, "the cat", {"answer": "the cat sat down"}, pytest.approx(2 / 3)),
    ("token_f1", {}, "dog", {"answer": "cat"}, 0.0),
    ("citation", {}, "Water boils at 100 C [1].", {}, 1.0),
    ("citation", {"min_count": 2}, "As shown [1] and again [1].", {}, 0.5),
    ("citation", {"min_count": 2}, "See [1] and [3].", {}, 1.0),
    ("citation", {"max_source": 2}, "See [1] and [3].", {}, 0.0),
    ("citation", {}, "No sources at all.", {}, 0.0),
    ("summary_rouge", {}, "the cat sat on the mat", {"summary": "the cat sat on the mat"}, 1.0),
    ("summary_rouge", {}, "dogs bark", {"summary": "the cat sat on the mat"}, 0.0),
    (
        "summary_rouge",
        {"field": "highlights"},
        "the cat sat",
        {"highlights": "the cat sat on the mat"},
        pytest.approx(2 / 3),
    ),
    ("summary_rouge", {}, "the cat", {}, 0.0),
]


@pytest.mark.parametrize(("name", "params", "completion", "row", "expected"), CASES)
def test_preset_scores_known_completion(name, params, completion, row, expected):
    (func,) = build_reward_funcs([RewardSpec(name=name, params=params)], M)
    columns = {k: [v] for k, v in row.items()}
    assert func(["a prompt"], [completion], **columns) == [expected]


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p.score_range])
def test_known_cases_stay_within_documented_range(name):
    low, high = PRESETS[name].score_range
    for case_name, params, completion, row, _ in CASES:
        if case_name != name:
            continue
        (func,) = build_reward_funcs([RewardSpec(name=name, params=params)], M)
        (value,) = func([""], [completion], **{k: [v] for k, v in row.items()})
        assert low <= value <= high


def test_every_preset_has_a_case_or_its_own_test():
    covered = {c[0] for c in CASES} | {"rule", "python"}
    assert covered == set(PRESETS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,000", 1000.0),
        ("1000.0", 1000.0),
        ("$5", 5.0),
        ("-3", -3.0),
        ("50%", 50.0),
        ("3/4", 0.75),
        ("x = 72 apples.", 72.0),
        ("1 and 2", None),
        ("none", None),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == expected


def test_extract_answer_prefers_solution_markers_then_boxed_then_hashes():
    assert extract_answer(full(solution="\\boxed{5}") + "\\boxed{6}", M) == "5"
    assert extract_answer("a \\boxed{\\frac{1}{2}} b", M) == "\\frac{1}{2}"
    assert extract_answer("steps\n#### 18", M) == "18"
    assert extract_answer("no answer", M) is None


def test_custom_markers_are_used():
    markers = Markers(
        reasoning_start="<think>",
        reasoning_end="</think>",
        solution_start="<a>",
        solution_end="</a>",
    )
    (fmt, ans) = build_reward_funcs(
        [RewardSpec(name="format"), RewardSpec(name="math_answer")], markers
    )
    text = "<think>2+2</think><a>4</a>"
    assert fmt([""], [text]) == [1.0]
    assert ans([""], [text], answer=["4"]) == [1.0]
