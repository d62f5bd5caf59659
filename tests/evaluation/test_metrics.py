"""The metrics, the arena's numbers and the serving cost, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from loralab.evaluation import (
    best_and_worst,
    cost_per_1k_requests,
    deltas,
    exact_match,
    judge_agreement,
    normalize_answer,
    rouge_l,
    score_answer,
    sentence_bleu,
    speed_summary,
    summarize,
    summarize_metrics,
    token_f1,
    vote_winner,
    wilson_interval,
    win_rate,
)


def test_exact_match_ignores_case_punctuation_and_spacing():
    assert normalize_answer("  Answer:  C, B.   A! ") == "answer c b a"
    assert exact_match("Answer: c b a", "answer: C B A.") == 1.0
    assert exact_match("Answer: c b a", "Answer: a b c") == 0.0


def test_token_f1_counts_shared_tokens():
    # 2 of 3 predicted tokens are right and 2 of 4 reference tokens found: P=2/3, R=1/2.
    assert token_f1("the cat sat", "the cat lay down") == pytest.approx(2 * (2 / 3) * 0.5 / (7 / 6))
    assert token_f1("a a b", "a b b") == pytest.approx(
        2 / 3
    )  # each token counts as often as it occurs
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0 and token_f1("x", "y") == 0.0


def test_rouge_l_is_the_lcs_f_measure():
    # LCS of "the cat sat" in "the cat sat on": 3; P=3/3, R=3/4, F=6/7.
    assert rouge_l("the cat sat", "the cat sat on") == pytest.approx(6 / 7)
    assert rouge_l("c b a", "a b c") == pytest.approx(1 / 3)  # LCS is one token
    assert rouge_l("same words", "same words") == 1.0


def test_bleu_is_sacrebleu_on_a_0_to_1_scale():
    assert sentence_bleu("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    assert sentence_bleu("x y z", "the cat sat on the mat") < 0.05
    import sacrebleu

    hyp, ref = "the cat is on the mat", "the cat sat on the mat"
    assert sentence_bleu(hyp, ref) == pytest.approx(sacrebleu.sentence_bleu(hyp, [ref]).score / 100)


def test_score_answer_gives_every_metric():
    scores = score_answer("Answer: c b a", "Answer: c b a")
    assert scores == {
        "exact_match": 1.0,
        "token_f1": 1.0,
        "rouge_l": 1.0,
        "bleu": pytest.approx(1.0),
    }


def test_summaries_and_deltas_have_mean_and_sample_std():
    assert summarize([1.0, 0.0, 1.0, 0.0]) == {
        "mean": 0.5,
        "std": round(math.sqrt(1 / 3), 6),
        "n": 4,
    }
    assert summarize([0.25]) == {"mean": 0.25, "std": 0.0, "n": 1}
    assert summarize([]) == {"mean": None, "std": None, "n": 0}
    base = [{"exact_match": 0.0, "token_f1": 0.5, "rouge_l": 0.5, "bleu": 0.1}] * 2
    tuned = [
        {"exact_match": 1.0, "token_f1": 1.0, "rouge_l": 1.0, "bleu": 0.9},
        {"exact_match": 0.0, "token_f1": 0.5, "rouge_l": 0.7, "bleu": 0.1},
    ]
    assert summarize_metrics(tuned)["exact_match"] == {
        "mean": 0.5,
        "std": round(math.sqrt(0.5), 6),
        "n": 2,
    }
    d = deltas(base, tuned)
    assert d["exact_match"]["mean"] == 0.5 and d["rouge_l"]["mean"] == pytest.approx(0.35)
    assert d["rouge_l"]["std"] == pytest.approx(
        math.sqrt(((0.5 - 0.35) ** 2 + (0.2 - 0.35) ** 2) / 1)
    )
    with pytest.raises(ValueError):
        deltas(base, tuned[:1])


def test_speed_weighs_tokens_by_their_decode_time_and_cost_follows():
    gens = [
        {"latency_s": 1.0, "ttft_s": 0.1, "completion_tokens": 10, "tokens_per_second": 10.0},
        {"latency_s": 3.0, "ttft_s": 0.3, "completion_tokens": 30, "tokens_per_second": 30.0},
    ]
    speed = speed_summary(gens)
    # 40 tokens in 1 s + 1 s of decoding: 20 tokens/s (not the mean of the rates, 20 here too)
    assert speed == {
        "mean_latency_s": 2.0,
        "mean_ttft_s": 0.2,
        "tokens_per_second": 20.0,
        "mean_completion_tokens": 20.0,
    }
    skewed = speed_summary(
        [{**gens[0], "completion_tokens": 90, "tokens_per_second": 90.0}, gens[0]]
    )
    assert skewed["tokens_per_second"] == 50.0  # 100 tokens in 2 s
    # 1,000 requests of 20 tokens at 20 tokens/s: 1,000 s of a $3.60 hour = $1.
    assert cost_per_1k_requests(20.0, 20.0, 3.6) == pytest.approx(1.0)
    assert cost_per_1k_requests(None, 20.0, 3.6) is None
    assert speed_summary([])["tokens_per_second"] is None


def test_wilson_interval_matches_the_formula():
    low, high = wilson_interval(8, 10)
    # Worked by hand: centre (0.8 + 1.92/20) / 1.384, half 1.96/1.384 * sqrt(0.016 + 0.0096)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(1 - high)  # symmetric at one half
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


def test_win_rate_counts_ties_and_both_bad_as_halves():
    counts = {"tuned": 6, "base": 2, "tie": 1, "both_bad": 1}
    rate = win_rate(counts)
    assert rate["value"] == 0.7 and rate["n"] == 10
    low, high = wilson_interval(7, 10)
    assert (rate["low"], rate["high"]) == (round(low, 6), round(high, 6))
    assert win_rate({}) == {"value": None, "low": None, "high": None, "n": 0}


def test_votes_map_to_sides():
    assert vote_winner("a", "tuned") == "tuned" and vote_winner("b", "tuned") == "base"
    assert vote_winner("a", "base") == "base" and vote_winner("b", "base") == "tuned"
    assert vote_winner("both_bad", "base") == "both_bad"
    with pytest.raises(ValueError):
        vote_winner("c", "base")


def test_best_and_worst_rank_by_the_metric_delta():
    def sample(i, base, tuned):
        return {"id": i, "metrics": {"base": {"rouge_l": base}, "tuned": {"rouge_l": tuned}}}

    samples = [
        sample("0", 0.1, 0.9),
        sample("1", 0.5, 0.5),
        sample("2", 0.8, 0.2),
        sample("3", 0.0, 0.3),
    ]
    assert best_and_worst(samples, "rouge_l", k=5) == (["0", "3"], ["2"])
    assert best_and_worst(samples, "rouge_l", k=1) == (["0"], ["2"])


def test_judge_agreement_over_voted_and_judged_samples():
    votes = [("0", "tuned"), ("1", "base"), ("2", "both_bad"), ("3", "tuned")]
    judge = {"0": "tuned", "1": "tuned", "2": "tie", "3": None}
    assert judge_agreement(votes, judge) == pytest.approx(2 / 3)
    assert judge_agreement(votes, {}) is None
