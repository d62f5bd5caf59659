"""``/api/evaluations`` and ``/api/jobs/{id}/results`` on arranged evaluations (real rows, real
files, no worker): the arena hides and remembers sides, votes reveal them once, the summary's
numbers, the downloads; and the evaluate and generate specs refuse bad input with 422s.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from loralab.store.adapters import add_adapter
from loralab.store.jobs import add_job, lock_job, new_job_id, set_status
from loralab.store.models import add_model

# -- arranging evaluations -----------------------------------------------------------------------


def _sample(i: int, base: str, tuned: str, reference: str, judge: str | None) -> dict[str, Any]:
    def side(text: str) -> dict[str, Any]:
        return {
            "text": text,
            "finish_reason": "stop",
            "length": 3,
            "latency_s": 0.1,
            "ttft_s": 0.01,
            "tokens_per_second": 30.0,
            "prompt_tokens": 5,
        }

    def metric(text: str) -> dict[str, float]:
        same = float(text == reference)
        return {"exact_match": same, "token_f1": same, "rouge_l": same or 0.2, "bleu": same}

    sample = {
        "id": str(i),
        "prompt": f"Reverse the words: {reference[::-1]}",
        "messages": [{"role": "user", "content": f"Reverse the words: {reference[::-1]}"}],
        "reference": reference,
        "base": side(base),
        "tuned": side(tuned),
        "metrics": {"base": metric(base), "tuned": metric(tuned)},
    }
    if judge is not None:
        sample["judge"] = {"winner": judge, "verdicts": [], "order_consistent": True}
    return sample


SAMPLES = [
    _sample(0, "x y", "b a", "b a", "tuned"),
    _sample(1, "d c", "q", "d c", "base"),
    _sample(2, "w", "f e", "f e", "tuned"),
    _sample(3, "z", "z", "h g", "tie"),
]
RESULT = {"samples": 4, "deltas": {"exact_match": {"mean": 0.25, "std": 0.9574, "n": 4}}}


def make_job(
    db,
    settings,
    kind: str,
    *,
    status: str = "completed",
    rows=None,
    result=None,
    file_name: str = "samples.jsonl",
) -> str:
    job_id = new_job_id()
    root = "evaluations" if kind in ("evaluate", "generate") else "runs"
    out = Path(settings.data_dir) / root / job_id
    out.mkdir(parents=True)
    with db.write() as session:
        add_job(session, job_id=job_id, kind=kind, config={}, output_dir=str(out))
    if status != "queued":
        with db.write() as session:
            row = lock_job(session, job_id)
            row.result = result
            set_status(session, row, status)
    if rows is not None:
        lines = "".join(json.dumps(r) + "\n" for r in rows)
        (out / file_name).write_text(lines, encoding="utf-8")
    return job_id


@pytest.fixture
def evaluation(db, settings) -> str:
    return make_job(db, settings, "evaluate", rows=SAMPLES, result=RESULT)


# -- the arena ------------------------------------------------------------------------------------


def test_arena_hides_sides_remembers_them_and_reveals_them_with_the_vote(bare_client, evaluation):
    url = f"/api/evaluations/{evaluation}"
    pair = bare_client.get(f"{url}/arena/next").json()
    assert set(pair) == {"sample_id", "prompt", "messages", "reference", "a", "b", "remaining"}
    assert pair["sample_id"] == "0" and pair["remaining"] == 4
    assert {pair["a"], pair["b"]} == {"x y", "b a"}
    # Asked again before the vote: the same sample with the same sides.
    assert bare_client.get(f"{url}/arena/next").json() == pair

    r = bare_client.post(f"{url}/votes", json={"sample_id": "0", "choice": "a"})
    assert r.status_code == 201, r.text
    voted = r.json()
    a_is = "tuned" if pair["a"] == "b a" else "base"
    assert voted["reveal"] == {"a": a_is, "b": "base" if a_is == "tuned" else "tuned"}
    assert voted["winner"] == a_is
    assert voted["summary"]["votes"][a_is] == 1 and voted["summary"]["remaining"] == 3

    again = bare_client.post(f"{url}/votes", json={"sample_id": "0", "choice": "b"})
    assert again.status_code == 409 and again.json()["code"] == "already_voted"
    assert bare_client.get(f"{url}/arena/next").json()["sample_id"] == "1"


def test_every_vote_then_arena_done_and_the_summary(bare_client, evaluation):
    url = f"/api/evaluations/{evaluation}"
    wanted = {"0": "tuned", "1": "base", "2": "tuned", "3": "both_bad"}
    for _ in SAMPLES:
        pair = bare_client.get(f"{url}/arena/next").json()
        sample = next(s for s in SAMPLES if s["id"] == pair["sample_id"])
        side = wanted[pair["sample_id"]]
        if side == "both_bad":
            choice = "both_bad"
        else:
            choice = "a" if pair["a"] == sample[side]["text"] else "b"
        r = bare_client.post(
            f"{url}/votes", json={"sample_id": pair["sample_id"], "choice": choice}
        )
        assert r.json()["winner"] == side
    done = bare_client.get(f"{url}/arena/next")
    assert done.status_code == 404 and done.json()["code"] == "arena_done"

    summary = bare_client.get(f"{url}/summary").json()
    assert summary["votes"] == {"tuned": 2, "base": 1, "tie": 0, "both_bad": 1}
    rate = summary["win_rate"]
    assert rate["value"] == 0.625 and rate["n"] == 4 and rate["low"] < 0.625 < rate["high"]
    # The judge named tuned, base, tuned, tie: the votes agree on all four (both bad is a tie).
    assert summary["judge_agreement"] == 1.0
    assert summary["best"] == ["0", "2"] and summary["worst"] == ["1"]
    assert summary["metric"] == "rouge_l" and summary["deltas"] == RESULT["deltas"]
    assert summary["remaining"] == 0 and summary["samples"] == 4
    by_exact = bare_client.get(f"{url}/summary", params={"metric": "exact_match"}).json()
    assert by_exact["best"] == ["0", "2"] and by_exact["worst"] == ["1"]
    bad = bare_client.get(f"{url}/summary", params={"metric": "accuracy"})
    assert bad.status_code == 422


def test_sides_are_drawn_at_random_per_sample(bare_client, db, settings):
    rows = [_sample(i, f"base {i}", f"tuned {i}", f"tuned {i}", None) for i in range(40)]
    job_id = make_job(db, settings, "evaluate", rows=rows, result=RESULT)
    tuned_first = []
    for _ in rows:
        pair = bare_client.get(f"/api/evaluations/{job_id}/arena/next").json()
        tuned_first.append(pair["a"].startswith("tuned"))
        bare_client.post(
            f"/api/evaluations/{job_id}/votes",
            json={"sample_id": pair["sample_id"], "choice": "tie"},
        )
    assert any(tuned_first) and not all(tuned_first)  # fails by chance with p = 2**-39


def test_votes_on_unknown_or_unseen_samples_are_refused(bare_client, evaluation):
    url = f"/api/evaluations/{evaluation}/votes"
    unseen = bare_client.post(url, json={"sample_id": "2", "choice": "a"})
    assert unseen.status_code == 409 and unseen.json()["code"] == "sample_not_shown"
    unknown = bare_client.post(url, json={"sample_id": "99", "choice": "a"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "sample_not_found"
    bad = bare_client.post(url, json={"sample_id": "0", "choice": "c"})
    assert bad.status_code == 422


def test_evaluations_that_are_not_ready_or_not_evaluations(bare_client, db, settings):
    running = make_job(db, settings, "evaluate", status="running")
    r = bare_client.get(f"/api/evaluations/{running}/arena/next")
    assert r.status_code == 409 and r.json()["code"] == "evaluation_not_ready"
    train = make_job(db, settings, "train")
    for path in ("", "/samples", "/summary", "/arena/next"):
        r = bare_client.get(f"/api/evaluations/{train}{path}")
        assert r.status_code == 404 and r.json()["code"] == "evaluation_not_found", path
    gone = make_job(db, settings, "evaluate")
    r = bare_client.get(f"/api/evaluations/{gone}/samples")
    assert r.status_code == 410 and r.json()["code"] == "evaluation_files_gone"


def test_list_one_and_pages_of_samples(bare_client, db, settings, evaluation):
    make_job(db, settings, "generate", rows=[])
    listed = bare_client.get("/api/evaluations").json()
    assert [j["id"] for j in listed] == [evaluation]
    one = bare_client.get(f"/api/evaluations/{evaluation}").json()
    assert one["kind"] == "evaluate" and one["result"] == RESULT
    page = bare_client.get(
        f"/api/evaluations/{evaluation}/samples", params={"offset": 1, "limit": 2}
    )
    body = page.json()
    assert body["total"] == 4 and body["offset"] == 1
    assert [s["id"] for s in body["samples"]] == ["1", "2"]
    assert body["samples"][0]["metrics"]["base"]["exact_match"] == 1.0
    assert bare_client.get(f"/api/evaluations/{evaluation}/samples?limit=0").status_code == 422


# -- downloads ------------------------------------------------------------------------------------

TRICKY = [
    {
        "id": "0",
        "prompt": 'Say, "hi"',
        "expected": "hi",
        "text": 'He said "hi",\nthen left',
        "finish_reason": "stop",
        "prompt_tokens": 4,
        "completion_tokens": 7,
        "latency_s": 0.5,
        "ttft_s": 0.1,
        "tokens_per_second": 14.0,
        "exact_match": 0.0,
    },
    {
        "id": "1",
        "prompt": "sum",
        "expected": None,
        "text": "=SUM(A1:A9)",
        "finish_reason": "length",
        "prompt_tokens": 2,
        "completion_tokens": 8,
        "latency_s": 0.6,
        "ttft_s": 0.1,
        "tokens_per_second": 13.3,
        "exact_match": None,
    },
]


def test_batch_results_download_as_json_and_quoted_csv(bare_client, db, settings):
    job_id = make_job(db, settings, "generate", rows=TRICKY, file_name="results.jsonl")
    as_json = bare_client.get(f"/api/jobs/{job_id}/results")
    assert as_json.status_code == 200 and as_json.json() == TRICKY
    assert "attachment" in as_json.headers["content-disposition"]

    as_csv = bare_client.get(f"/api/jobs/{job_id}/results", params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(as_csv.text, newline="")))
    assert [r["id"] for r in rows] == ["0", "1"]
    assert rows[0]["text"] == 'He said "hi",\nthen left' and rows[0]["prompt"] == 'Say, "hi"'
    assert rows[1]["text"] == "'=SUM(A1:A9)"  # never a live formula in a spreadsheet
    assert rows[1]["expected"] == "" and rows[0]["tokens_per_second"] == "14.0"


def test_evaluation_samples_download_one_row_a_sample(bare_client, evaluation):
    r = bare_client.get(f"/api/jobs/{evaluation}/results", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert [r["id"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[0]["base_text"] == "x y" and rows[0]["tuned_text"] == "b a"
    assert rows[0]["tuned_exact_match"] == "1.0" and rows[0]["judge_winner"] == "tuned"
    assert bare_client.get(f"/api/jobs/{evaluation}/results").json() == SAMPLES


def test_results_of_unfinished_or_other_jobs(bare_client, db, settings):
    queued = make_job(db, settings, "generate", status="queued")
    r = bare_client.get(f"/api/jobs/{queued}/results")
    assert r.status_code == 409 and r.json()["code"] == "results_not_ready"
    train = make_job(db, settings, "train")
    r = bare_client.get(f"/api/jobs/{train}/results")
    assert r.status_code == 404 and r.json()["code"] == "results_not_found"
    assert bare_client.get("/api/jobs/nope/results").json()["code"] == "job_not_found"
    done = make_job(db, settings, "generate", rows=[], file_name="results.jsonl")
    assert bare_client.get(f"/api/jobs/{done}/results?format=xml").status_code == 422


# -- submitting: bad input is a 422 at the field --------------------------------------------------


@pytest.fixture
def trained_adapter(db, settings, peft_adapter, tiny_model) -> dict[str, str]:
    """An adapter of a training run with a complete checkpoint at step 2 and held-out rows."""
    run_id = make_job(db, settings, "train")
    run = Path(settings.data_dir) / "runs" / run_id
    (run / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint-2" / "COMPLETE").write_text("{}")
    (run / "checkpoints" / "checkpoint-3").mkdir()  # being written: not complete
    (run / "data").mkdir()
    (run / "data" / "heldout.jsonl").write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
        )
        + "\n"
    )
    folder = shutil.copytree(peft_adapter, run / "adapter")
    with db.write() as session:
        model = add_model(session, name="tiny qwen2", path=str(tiny_model))
    with db.write() as session:
        adapter = add_adapter(
            session,
            path=str(folder),
            name="my run",
            source="training",
            base_model=str(tiny_model),
            base_ref=f"model:{model.id}",
            job_id=run_id,
            size_bytes=1,
            files=[],
        )
    return {"id": adapter.id, "run": run_id}


def submit(client, kind: str, config: dict[str, Any]):
    return client.post("/api/jobs", json={"kind": kind, "config": config})


def _locs(response) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json().get("errors", [])]


def test_evaluate_refuses_unknown_adapters_checkpoints_and_sizes(bare_client, trained_adapter):
    adapter = f"adapter:{trained_adapter['id']}"
    assert _locs(submit(bare_client, "evaluate", {"adapter": "adapter:nope"})) == ["config.adapter"]
    assert _locs(submit(bare_client, "evaluate", {"adapter": "model:x"})) == ["config.adapter"]
    for size in (0, 1001):
        r = submit(bare_client, "evaluate", {"adapter": adapter, "max_samples": size})
        assert _locs(r) == ["config.max_samples"]
    r = submit(bare_client, "evaluate", {"adapter": adapter, "checkpoints": [2, 3, 7]})
    assert _locs(r) == ["config.checkpoints.1", "config.checkpoints.2"]
    r = submit(bare_client, "evaluate", {"adapter": adapter, "dataset": "dataset:nope"})
    assert _locs(r) == ["config.dataset"]
    r = submit(bare_client, "evaluate", {"adapter": adapter, "sampling": {"max_tokens": 0}})
    assert _locs(r) == ["config.sampling.max_tokens"]


def test_evaluate_of_a_run_takes_its_held_out_rows_and_keeps_the_key_private(
    bare_client, settings, trained_adapter
):
    r = submit(
        bare_client,
        "evaluate",
        {
            "adapter": f"adapter:{trained_adapter['id']}",
            "checkpoints": [2],
            "judge": {"base_url": "http://127.0.0.1:9/v1", "model": "judge", "api_key": "sk-123"},
        },
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["kind"] == "evaluate" and job["adapter_id"] == trained_adapter["id"]
    assert job["parent_id"] == trained_adapter["run"]
    resolved = job["config"]["resolved"]
    assert resolved["heldout"].endswith(f"runs/{trained_adapter['run']}/data/heldout.jsonl")
    assert [c["step"] for c in resolved["checkpoints"]] == [2]
    assert resolved["base_label"] == "tiny qwen2"  # the registered model's name
    assert "sk-123" not in json.dumps(job) and job["config"]["judge"]["api_key"] is None
    key = Path(resolved["judge_key_file"])
    assert key.read_text() == "sk-123" and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.parent == Path(settings.data_dir) / "evaluations" / job["id"]


def test_evaluate_of_an_adapter_without_a_run_needs_a_dataset(
    bare_client, db, peft_adapter, tiny_model, tmp_path
):
    folder = shutil.copytree(peft_adapter, tmp_path / "outside")
    with db.write() as session:
        adapter = add_adapter(
            session,
            path=str(folder),
            name="outside",
            source="external",
            base_model=str(tiny_model),
            size_bytes=1,
            files=[],
        )
    r = submit(bare_client, "evaluate", {"adapter": f"adapter:{adapter.id}", "checkpoints": [1]})
    assert _locs(r) == ["config.checkpoints", "config.dataset"]


def test_generate_refuses_bad_prompts_and_models(bare_client):
    assert _locs(submit(bare_client, "generate", {"model": "bad model!", "lines": ["hi"]})) == [
        "config.model"
    ]
    assert _locs(submit(bare_client, "generate", {"model": "org/m"})) == ["config"]
    both = {"model": "org/m", "lines": ["hi"], "prompts": "dataset:x"}
    assert _locs(submit(bare_client, "generate", both)) == ["config"]
    many = {"model": "org/m", "lines": ["hi"] * 1001}
    assert _locs(submit(bare_client, "generate", many)) == ["config.lines"]
    empty = {"model": "org/m", "lines": [""]}
    assert _locs(submit(bare_client, "generate", empty)) == ["config.lines.0"]
    r = submit(bare_client, "generate", {"model": "org/m", "prompts": "dataset:nope"})
    assert _locs(r) == ["config.prompts"]
