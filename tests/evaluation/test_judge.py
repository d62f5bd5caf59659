"""The pairwise judge through the real ``openai`` client against a local OpenAI-shaped server."""

from __future__ import annotations

import pytest

from loralab.evaluation import (
    JudgeEndpoint,
    JudgeUnavailable,
    PairwiseJudge,
    judge_summary,
)
from loralab.evaluation.judge import parse_verdict


def judge(server, model: str) -> PairwiseJudge:
    return PairwiseJudge(JudgeEndpoint(server.base_url, model, api_key="sk-local"))


def test_each_pair_is_judged_in_both_orders(judge_server):
    before = len(judge_server.requests)
    verdict = judge(judge_server, "reference").compare(
        "Reverse: a b", base_answer="a b", tuned_answer="b a", reference="b a"
    )
    assert verdict.winner == "tuned" and verdict.order_consistent
    assert [v["order"] for v in verdict.verdicts] == ["base_first", "tuned_first"]
    assert [v["said"] for v in verdict.verdicts] == ["B", "A"]
    sent = judge_server.requests[before:]
    assert len(sent) == 2 and all(r["temperature"] == 0 for r in sent)
    first, second = (r["messages"][-1]["content"] for r in sent)
    assert "[Answer A]\na b" in first and "[Answer A]\nb a" in second


def test_a_position_biased_judge_gives_ties(judge_server):
    biased = judge(judge_server, "always-a")
    verdicts = [
        biased.compare("p", base_answer="wrong", tuned_answer="right", reference="right"),
        biased.compare("p", base_answer="right", tuned_answer="wrong", reference="right"),
    ]
    # "A" both times means base first, then tuned first: the orders disagree, so no winner.
    assert [v.winner for v in verdicts] == ["tie", "tie"]
    assert not any(v.order_consistent for v in verdicts)
    summary = judge_summary([v.to_dict() for v in verdicts])
    assert summary == {
        "tuned_wins": 0,
        "base_wins": 0,
        "ties": 2,
        "order_consistent": 0.0,
        "judged": 2,
        "failed": 0,
    }


def test_consistent_verdicts_count_for_their_side(judge_server):
    fair = judge(judge_server, "reference")
    verdicts = [
        fair.compare("p", "x", "right", reference="right").to_dict(),
        fair.compare("p", "right", "x", reference="right").to_dict(),
        fair.compare("p", "x", "y", reference="right").to_dict(),
        None,  # a sample the judge was not asked about
    ]
    assert [v["winner"] for v in verdicts[:3]] == ["tuned", "base", "tie"]
    summary = judge_summary(verdicts)
    assert (summary["tuned_wins"], summary["base_wins"], summary["ties"]) == (1, 1, 1)
    assert summary["order_consistent"] == 1.0 and summary["failed"] == 1


def test_a_failing_endpoint_raises_judge_unavailable(judge_server):
    with pytest.raises(JudgeUnavailable) as caught:
        judge(judge_server, "broken").compare("p", "a", "b")
    assert caught.value.code == "judge_unavailable" and caught.value.status == 503


def test_verdicts_are_read_from_the_first_word():
    assert parse_verdict("B") == "B" and parse_verdict(" tie.") == "TIE"
    assert parse_verdict("A: it is better") == "A" and parse_verdict("") == "TIE"
    assert parse_verdict("Both are fine") == "TIE"
