"""Try, compare and judge in the browser: the playground side by side, a batch test, and an
evaluation voted on blind in the arena.

Real Chromium, real ``loralab serve`` with its inference worker and job workers, and a real
adapter: the tiny model trained for a few steps on the CPU (once per module, through the API,
holding out rows for the evaluation). Screenshots go to docs/img with ``make screenshots``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLE = "openai_messages_sample.jsonl"
# Inference of the tiny model on the CPU is quick; the first request also starts the worker.
ANSWER_TIMEOUT = 180_000


def wait_job(server, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=10).json()
        if job["status"] in ("completed", "failed", "stopped", "interrupted"):
            assert job["status"] == "completed", (
                f"{job['kind']} job ended {job['status']}: {job.get('reason')}\n{server.log_tail()}"
            )
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"{job['kind']} job still {job['status']} after {timeout} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def trained(server, tiny_model: Path, formats_dir: Path) -> dict[str, str]:
    """The tiny model, a dataset and a short run of it that held out rows: its adapter's ids."""
    r = httpx.post(f"{server.url}/api/models", json={"path": str(tiny_model), "name": "tiny-qwen2"})
    assert r.status_code == 201, r.text
    model_id = r.json()["id"]
    with open(formats_dir / SAMPLE, "rb") as fh:
        r = httpx.post(
            f"{server.url}/api/datasets/upload", files={"file": (SAMPLE, fh)}, timeout=60
        )
    assert r.status_code in (201, 202), r.text
    dataset_id = r.json()["id"]
    config = {
        "model": {"name_or_path": f"model:{model_id}"},
        "data": {"source": f"dataset:{dataset_id}", "max_samples": 40, "eval_fraction": 0.15},
        "lora": {"r": 4, "alpha": 8},
        "train": {
            "max_steps": 8,
            "save_steps": 4,
            "batch_size": 2,
            "gradient_accumulation_steps": 1,
            "max_seq_length": 256,
            "gradient_checkpointing": False,
            "learning_rate": 5e-3,
            "warmup_ratio": 0.0,
        },
    }
    r = httpx.post(f"{server.url}/api/jobs", json={"config": config, "name": "tiny chat run"})
    assert r.status_code == 201, r.text
    job = wait_job(server, r.json()["id"])
    adapter_id = job["result"]["adapter_id"]
    return {
        "model_id": model_id,
        "dataset_id": dataset_id,
        "run_id": job["id"],
        "adapter_id": adapter_id,
    }


def set_field(page: Page, selector: str, value: str) -> None:
    field = page.locator(selector)
    field.fill(value)
    expect(field).to_have_value(value)


def test_playground_side_by_side_names_who_answered(page: Page, shot, trained):
    adapter_id = trained["adapter_id"]
    # The completed run links straight to the playground, side by side with its adapter.
    page.goto(f"/runs/{trained['run_id']}")
    page.get_by_test_id("run-next-steps").get_by_role("link", name="Playground").click()
    expect(page).to_have_url(re.compile(rf"/playground\?model=adapter%3A{adapter_id}&compare=1$"))
    expect(page.get_by_role("button", name="Side by side")).to_have_attribute(
        "aria-pressed", "true"
    )
    left, right = page.get_by_test_id("pane-0"), page.get_by_test_id("pane-1")
    expect(right.locator("select")).to_have_value(f"adapter:{adapter_id}")
    expect(left.locator("select")).to_have_value(f"model:{trained['model_id']}")

    set_field(page, "#pg-max_tokens", "24")
    set_field(page, "#pg-seed", "7")
    page.get_by_label("Message").fill("What is the capital of France?")
    page.get_by_label("Message").press("Enter")

    # Both panes answer; each says, from the server's result, what answered.
    for pane in (left, right):
        expect(pane.get_by_test_id("answer-metrics")).to_be_visible(timeout=ANSWER_TIMEOUT)
        for metric in ("m-latency", "m-ttft", "m-tps"):
            expect(pane.get_by_test_id(metric)).not_to_have_text("—")
    expect(left.get_by_test_id("answered-adapter")).to_have_text("no adapter")
    expect(right.get_by_test_id("answered-adapter")).to_have_text(f"adapter {adapter_id[:8]}")
    for pane in (left, right):
        expect(pane.get_by_test_id("answered-base")).to_contain_text("base ")
        expect(pane.get_by_test_id("answered-device")).to_contain_text("cpu")
        expect(pane.get_by_test_id("answer-metrics")).to_contain_text("7")  # the shared seed
    expect(page.get_by_role("button", name="Send to both")).to_be_disabled()  # empty message box
    shot("22-playground-side-by-side")


def test_batch_test_lists_every_answer_with_downloads(page: Page, shot, trained, server):
    page.goto(f"/batch?model=adapter:{trained['adapter_id']}")
    page.locator("#batch-lines").fill("Say hello.\nName a colour.\nCount to three.")
    expect(page.get_by_text("3 prompts.")).to_be_visible()
    set_field(page, "#batch-max_tokens", "12")
    page.get_by_role("button", name="Start batch test").click()
    expect(page).to_have_url(re.compile(r"/batch\?job=[0-9a-f]{32}$"))
    table = page.get_by_test_id("batch-results")
    expect(table.locator("tbody tr")).to_have_count(3, timeout=ANSWER_TIMEOUT)
    expect(table).to_contain_text("Name a colour.")
    expect(page.get_by_test_id("batch-summary")).to_contain_text("3")
    shot("25-batch-results")
    job_id = page.url.rsplit("=", 1)[1]
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    assert "Name a colour." in Path(info.value.path()).read_text()
    r = httpx.get(f"{server.url}/api/jobs/{job_id}/results", params={"format": "json"})
    assert r.status_code == 200, r.text


def test_evaluation_then_blind_vote_and_reveal(page: Page, shot, trained):
    adapter_id = trained["adapter_id"]
    # The adapter page starts an evaluation prefilled with it; the run's held-out rows by default.
    page.goto(f"/adapters/{adapter_id}")
    page.get_by_role("link", name="Evaluate").click()
    form = page.get_by_test_id("new-evaluation")
    expect(form.locator("#eval-adapter")).to_have_value(f"adapter:{adapter_id}")
    expect(form.get_by_role("button", name="Held-out rows of its run")).to_have_attribute(
        "aria-pressed", "true"
    )
    set_field(page, "#eval-max", "3")
    # Both checkpoints of the run too: the summary charts a metric over the steps.
    for step in ("step 4", "step 8"):
        form.get_by_role("button", name=step).click()
        expect(form.get_by_role("button", name=step)).to_have_attribute("aria-pressed", "true")
    form.get_by_text("Sampling (greedy by default").click()
    set_field(page, "#eval-max_tokens", "16")
    form.get_by_role("button", name="Start evaluation").click()
    expect(page).to_have_url(re.compile(r"/evaluations/[0-9a-f]{32}$"))
    eval_url = page.url

    # The summary: metrics base vs tuned with deltas, speed and cost, the samples.
    metrics = page.get_by_test_id("metric-table")
    expect(metrics).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(metrics.locator("tr[data-metric=rouge_l]")).to_be_visible()
    expect(page.get_by_test_id("cost-row")).to_contain_text("$")
    expect(page.get_by_test_id("samples-table").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("checkpoint-chart").locator("[data-points='2']")).to_be_visible()
    shot("23-evaluation-summary")

    # The arena: vote with a key, the reveal names each side, the summary counts the vote.
    page.get_by_role("link", name="Vote in the arena").click()
    expect(page.get_by_test_id("arena-prompt")).to_be_visible()
    expect(page.get_by_test_id("reveal-a")).to_have_count(0)  # blind until the vote
    expect(page.get_by_role("button", name=re.compile("^A is better"))).to_contain_text("1")
    page.keyboard.press("1")
    expect(page.get_by_test_id("arena-reveal")).to_be_visible()
    sides = {
        page.get_by_test_id("reveal-a").inner_text(),
        page.get_by_test_id("reveal-b").inner_text(),
    }
    assert any(s.startswith("tuned") for s in sides) and any(s.startswith("base") for s in sides), (
        sides
    )
    summary = page.get_by_test_id("arena-summary")
    votes = sum(
        int(summary.get_by_test_id(t).inner_text())
        for t in ("votes-tuned", "votes-base", "votes-tie", "votes-both-bad")
    )
    assert votes == 1
    expect(summary.get_by_test_id("win-rate-value")).to_be_visible()
    shot("24-arena-reveal")

    # Next, then a tie by its letter key: two votes in all.
    page.keyboard.press("n")
    expect(page.get_by_test_id("arena-reveal")).to_have_count(0)
    expect(page.get_by_test_id("arena-prompt")).to_be_visible()
    # The next pair may still be loading when the prompt shows: press until the vote lands.
    for _ in range(30):
        page.keyboard.press("t")
        try:
            expect(page.get_by_test_id("arena-reveal")).to_be_visible(timeout=1_000)
            break
        except AssertionError:
            continue
    expect(summary.get_by_test_id("votes-tie")).to_have_text("1")

    # The evaluation page counts them too.
    page.goto(eval_url)
    expect(page.get_by_test_id("votes-card").get_by_test_id("votes-tie")).to_have_text("1")
    page.goto("/evaluations")
    row = page.get_by_test_id("evaluations-table").locator("tr[data-evaluation]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("tiny chat run")


def test_export_q8_0_and_q4_k_m_with_a_modelfile_and_the_parity_report(
    page: Page, shot, trained, server
):
    # From the run page: Export → the form for its adapter, with a size per quantization.
    page.goto(f"/runs/{trained['run_id']}")
    page.get_by_test_id("run-next-steps").get_by_role("link", name="Export").click()
    form = page.get_by_test_id("new-export")
    expect(form).to_be_visible()
    quants = page.get_by_test_id("export-quants")
    expect(quants.locator("tr[data-quant=q4_k_m]")).to_be_visible(timeout=30_000)
    for name in ("f16", "q8_0", "q4_k_m"):  # the defaults; keep q8_0 and q4_k_m only
        box = page.locator(f"#export-quant-{name}")
        if name == "f16" and box.is_checked():
            box.uncheck()
        elif name != "f16" and not box.is_checked():
            box.check()
    expect(page.locator("#export-modelfile")).to_be_checked()
    expect(page.locator("#export-parity")).to_be_checked()
    form.get_by_role("button", name="Start export").click()

    expect(page).to_have_url(re.compile(r"/exports/[0-9a-f]{32}$"), timeout=30_000)
    job_id = page.url.rsplit("/", 1)[1]
    wait_job(server, job_id, timeout=600)
    parity = page.get_by_test_id("parity-table")
    expect(parity).to_be_visible(timeout=60_000)
    expect(parity).to_contain_text("q8_0")
    expect(parity).to_contain_text("q4_k_m")
    expect(page.get_by_test_id("suspect-badge")).to_have_count(0)
    files = page.get_by_test_id("export-files")
    expect(files).to_contain_text("Modelfile")
    expect(page.get_by_test_id("export-howto")).to_contain_text("ollama create")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download Modelfile").click()
    modelfile = Path(info.value.path()).read_text()
    assert re.search(r"^FROM \./gguf/.+-q4_k_m\.gguf$", modelfile, re.M), modelfile
    assert "TEMPLATE" in modelfile
    assert "PARAMETER stop" in modelfile
    with page.expect_download() as info:
        page.locator('a[aria-label$="q8_0.gguf"]').click()
    assert Path(info.value.path()).read_bytes()[:4] == b"GGUF"
