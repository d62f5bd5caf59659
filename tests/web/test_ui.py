"""The web UI as a new user meets it: build the demo model, upload data, train, reload, stop, resume,
then find the run's adapter, download it, promote a checkpoint, and see the other jobs apart.

Real Chromium, real ``loralab serve``, real training of a tiny model on the CPU. Each step can
leave a screenshot in docs/img (``make screenshots``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Long enough to reload and stop mid-run on a fast machine, short enough for a few minutes here.
MAX_STEPS = 120


def loss_points(page: Page) -> int:
    """How many steps the loss chart holds (the whole run, before thinning for drawing)."""
    value = page.get_by_test_id("loss-chart").locator("[data-points]").get_attribute("data-points")
    return int(value or 0)


def wait_points(page: Page, at_least: int, timeout: float = 120_000) -> int:
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=loss-chart] [data-points]')"
        "?.getAttribute('data-points') || 0) >= n",
        arg=at_least,
        timeout=timeout,
    )
    return loss_points(page)


def fill(page: Page, path: str, value: str) -> None:
    """Type into a config field rendered from the schema (its id is f-<section>-<key>)."""
    field = page.locator(f"#f-{path.replace('.', '-')}")
    field.fill(value)
    expect(field).to_have_value(value)


def register_tiny_model(page: Page, tiny_model: Path) -> None:
    page.get_by_role("tab", name="Local folder").click()
    page.get_by_label("Folder on the server").fill(str(tiny_model))
    page.get_by_label("Name (optional)").fill("tiny-qwen2")
    page.get_by_role("button", name="Register model").click()
    name = page.locator("strong", has_text=re.compile(r"^tiny-qwen2$"))
    chosen = page.locator(".size-btn", has=name)
    expect(chosen).to_have_attribute("aria-pressed", "true")


def build_demo_model(page: Page) -> None:
    """What a first-time user on a CPU does: follow the catalog's hint to the demo model."""
    page.get_by_role("button", name="Use a demo model").click()
    expect(page.get_by_role("tab", name="Local folder")).to_have_attribute("aria-selected", "true")
    page.get_by_role("button", name="Build demo model").click()
    # The build is a job: the button waits for it, then the model is selected.
    expect(page.get_by_role("button", name="Building…")).to_be_visible()
    chosen = page.locator(".size-btn", has_text="tiny-qwen2 (demo)")
    expect(chosen).to_have_attribute("aria-pressed", "true", timeout=120_000)
    expect(page.get_by_role("button", name="Build demo model")).to_be_enabled()


def lora_mode(page: Page, mode: str) -> None:
    page.get_by_role("group", name="LoRA settings mode").get_by_role("button", name=mode).click()


def upload(page: Page, file: Path) -> None:
    page.locator("#upload-file").set_input_files(str(file))


def test_new_run_train_reload_stop_resume(page: Page, shot, formats_dir: Path):
    page.goto("/new")
    expect(page.get_by_role("heading", name="New run")).to_be_visible()

    # 1. Model: no terminal needed: the server builds the tiny demo model; the estimate appears.
    build_demo_model(page)
    expect(page.get_by_test_id("memory-estimate")).to_be_visible()
    expect(page.get_by_test_id("memory-estimate").locator("[data-verdict]")).to_have_text("fits")
    lora_mode(page, "Custom")
    expect(page.locator("#f-lora-r")).to_have_value("16")
    shot("01-model")

    # 2. Dataset: upload FineTome's sample; the report and the rendered preview show.
    page.get_by_role("button", name=re.compile("Next: Dataset")).click()
    upload(page, formats_dir / "finetome_sample.parquet")
    report = page.get_by_test_id("validation-report")
    expect(report).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("field-mapping")).to_contain_text("Auto-detected, please review")
    preview = page.get_by_test_id("sample-preview")
    expect(preview).to_be_visible(timeout=60_000)
    expect(preview.locator(".trained").first).to_be_visible()
    expect(preview).to_contain_text("<|im_start|>assistant")
    shot("02-dataset")

    # 3. Training: a short run on the CPU.
    page.get_by_role("button", name=re.compile("Next: Training")).click()
    fill(page, "train.max_steps", str(MAX_STEPS))
    fill(page, "train.save_steps", "5")
    fill(page, "train.max_seq_length", "256")
    fill(page, "train.batch_size", "1")
    fill(page, "train.gradient_accumulation_steps", "1")
    fill(page, "data.max_samples", "60")
    # The run-time choices show as auto, not as off; each can be set either way and back.
    expect(page.get_by_label("Gradient checkpointing", exact=True)).to_have_value("auto")
    for auto_field in ("train.chunked_loss", "train.group_by_length"):
        expect(page.locator(f"#f-{auto_field.replace('.', '-')}")).to_have_value("auto")
    checkpointing = page.locator("#f-train-gradient_checkpointing")
    checkpointing.select_option("on")
    checkpointing.select_option("auto")
    expect(checkpointing).to_have_value("auto")
    checkpointing.select_option("off")
    expect(checkpointing).to_have_value("off")
    expect(page.get_by_test_id("effective-batch")).to_have_text("1")
    shot("03-training")

    # 4. Review: the YAML says what will run; Start opens the run's page.
    page.get_by_role("button", name=re.compile("Next: Review")).click()
    page.get_by_label("Run name (optional)").fill("first tiny run")
    yaml_text = page.get_by_test_id("config-yaml").inner_text()
    assert f"max_steps: {MAX_STEPS}" in yaml_text and "gradient_checkpointing: false" in yaml_text
    assert "chunked_loss: null" in yaml_text  # auto: decided when the run starts
    page.get_by_label("Config name").fill("tiny first run")
    page.get_by_role("button", name="Save config").click()
    expect(page.get_by_text("Saved as “tiny first run”")).to_be_visible()
    shot("04-review")
    page.get_by_role("region", name="Run").get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    run_url = page.url

    # The loss chart gains points as steps arrive.
    first = wait_points(page, 3, timeout=180_000)
    more = wait_points(page, first + 3)
    assert more > first
    expect(page.get_by_test_id("connection")).to_have_text("live")
    shot("05-run-live")

    # 5. Reload mid-run: the chart comes back with every point it had, then keeps growing.
    # The run's event stream now goes through a route, so the test can cut it below.
    streams: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        streams.append(ws)

    page.route_web_socket(re.compile(r"/api/jobs/[0-9a-f]{32}/events"), through)
    before = loss_points(page)
    page.reload()
    expect(page.get_by_test_id("loss-chart")).to_be_visible()
    after = wait_points(page, before, timeout=15_000)
    assert after >= before
    wait_points(page, after + 2)
    expect(page.get_by_test_id("run-status")).to_contain_text("running")
    shot("06-run-after-reload")

    # A dropped connection shows "reconnecting", then resumes from the last event: no gap.
    expect(page.get_by_test_id("connection")).to_have_text("live")
    streams[-1].close(code=4000, reason="connection dropped by the test")
    expect(page.get_by_test_id("connection")).to_contain_text("reconnecting")
    expect(page.get_by_test_id("connection")).to_have_text("live", timeout=15_000)
    assert len(streams) >= 2
    dropped_at = loss_points(page)
    wait_points(page, dropped_at + 2)

    # 6. Stop with a checkpoint, then Resume to the end.
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Stop and keep a checkpoint").click()
    expect(page.get_by_test_id("run-status")).to_have_text("stopped", timeout=90_000)
    expect(page.get_by_test_id("checkpoints")).to_contain_text("complete")
    stopped_at = loss_points(page)
    assert stopped_at < MAX_STEPS
    shot("07-run-stopped")

    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=240_000)
    expect(page.get_by_test_id("run-card")).to_be_visible()
    assert wait_points(page, MAX_STEPS, timeout=10_000) == MAX_STEPS
    expect(page.get_by_test_id("step-counter")).to_have_text(f"Step {MAX_STEPS} / {MAX_STEPS}")
    page.get_by_test_id("run-card").scroll_into_view_if_needed()
    shot("08-run-completed")

    # The run is in the sidebar with its final status, and its page survives a fresh load.
    page.goto(run_url)
    assert wait_points(page, MAX_STEPS, timeout=15_000) == MAX_STEPS

    check_adapter_and_jobs(page, shot, run_url)


def check_adapter_and_jobs(page: Page, shot, run_url: str) -> None:
    """After the run: its adapter as a resource, a promoted checkpoint, the jobs of other kinds."""
    # The run page shows the adapter it produced, with its files and a download.
    card = page.get_by_test_id("adapter-card")
    expect(card.get_by_test_id("adapter-files")).to_contain_text("adapter_model.safetensors")
    expect(card).to_contain_text("adapter_config.json")
    adapter_name = card.get_by_test_id("adapter-name").inner_text()
    card.scroll_into_view_if_needed()
    shot("19-run-adapter", full_page=False)
    with page.expect_download() as info:
        card.get_by_role("link", name=re.compile("^Download")).click()
    with zipfile.ZipFile(info.value.path()) as zf:
        names = {Path(n).name for n in zf.namelist()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= names, names

    # A complete checkpoint becomes an adapter of its own.
    checkpoints = page.get_by_test_id("checkpoints")
    checkpoints.get_by_role("button", name="Promote to adapter").first.click()
    promoted = checkpoints.get_by_role("link", name=re.compile("^adapter “"))
    expect(promoted).to_have_count(1)

    # The Adapters page lists both, and downloads from there too.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Adapters").click()
    table = page.get_by_test_id("adapters-table")
    expect(table.locator("tr[data-adapter]")).to_have_count(2)
    trained = table.locator("tr[data-adapter]", has_text="training run")
    expect(trained).to_contain_text(adapter_name)
    expect(trained).to_contain_text("sft")
    expect(trained).to_contain_text("tiny-qwen2 (demo)")  # its base model, by name
    for dismiss in page.get_by_role("button", name="Dismiss").all():
        dismiss.click()
    shot("18-adapters")
    with page.expect_download() as info:
        trained.get_by_role("link", name=re.compile("^Download")).click()
    assert zipfile.is_zipfile(info.value.path())

    # Registering a folder that is not a PEFT adapter says so at the field.
    page.get_by_label("Adapter folder on the server").fill("/nonexistent/adapter")
    page.get_by_label("Base model").fill("Qwen/Qwen2.5-0.5B-Instruct")
    page.get_by_role("button", name="Register adapter").click()
    expect(page.locator("#adapter-path-err")).to_be_visible()
    expect(page.get_by_label("Adapter folder on the server")).to_have_attribute(
        "aria-invalid", "true"
    )

    # Delete the promoted one (after a confirm); the trained one stays.
    page.once("dialog", lambda d: d.accept())
    table.locator("tr[data-adapter]", has_text="checkpoint").get_by_role(
        "button", name=re.compile("^Delete")
    ).click()
    expect(table.locator("tr[data-adapter]")).to_have_count(1)

    # "Use in a new run" opens the wizard with the adapter as the model.
    trained.get_by_role("button", name="Use in a new run").click()
    expect(page).to_have_url(re.compile(r"/new$"))
    expect(page.get_by_role("tab", name="Continue an adapter")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator(".size-btn[aria-pressed=true]")).to_contain_text(adapter_name)

    # The runs list holds the training run only; the demo model build is a job of its own.
    page.goto("/")
    expect(page.locator("table.table tbody tr.clickable")).to_have_count(1)
    expect(page.locator(".runlist li")).to_have_count(1)
    expect(page.locator(".runlist")).not_to_contain_text("demo")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    jobs = page.get_by_test_id("jobs-table")
    expect(jobs.locator("tr[data-kind=demo_model]")).to_have_count(1)
    expect(jobs.locator("tr[data-kind=demo_model]")).to_contain_text("Demo model build")
    expect(jobs.locator("tr[data-kind=train]")).to_have_count(0)

    # The demo build's own page: its log and its result, which links to the model.
    jobs.locator("tr[data-kind=demo_model]").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f]{32}$"))
    expect(page.get_by_test_id("job-status")).to_have_text("completed")
    expect(page.get_by_test_id("log-tail").locator(".ln").first).not_to_have_text(
        "No log lines yet."
    )
    result = page.get_by_test_id("job-result")
    expect(result.get_by_role("link", name="tiny-qwen2 (demo)")).to_be_visible()
    expect(page.get_by_test_id("job-devices")).to_contain_text("CPU")
    shot("21-job-demo-model")

    # A training run's id under /jobs opens its run page.
    page.goto(run_url.replace("/runs/", "/jobs/"))
    expect(page).to_have_url(run_url)


def test_popular_dataset_offline_says_hub_unavailable(page: Page, shot):
    # The test server runs with HF_HUB_OFFLINE=1: choosing a hub dataset must say so plainly.
    page.goto("/new")
    page.get_by_role("button", name=re.compile("Dataset")).first.click()
    page.get_by_role("tab", name="Popular datasets").click()
    card = page.locator(".model-card", has_text="GSM8K")
    expect(card).to_contain_text("Math reasoning")
    card.get_by_role("button", name="Use this dataset").click()
    expect(card.get_by_role("alert")).to_contain_text("Hugging Face hub unavailable")
    shot("17-popular-offline")


def test_malformed_upload_lists_errors_by_line(page: Page, shot, formats_dir: Path):
    page.goto("/new")
    page.get_by_role("button", name=re.compile("Dataset")).first.click()
    upload(page, formats_dir / "malformed" / "broken_lines.jsonl")
    errors = page.get_by_test_id("row-errors")
    expect(errors).to_be_visible(timeout=60_000)
    # broken_lines.jsonl: line 2 is cut short, line 3 is not JSON, line 4 is not an object.
    for line in ("2", "3", "4"):
        expect(errors.locator("td.num", has_text=re.compile(rf"^{line}$"))).to_have_count(1)
    expect(errors).to_contain_text("bad_json")
    shot("09-upload-errors")


def test_config_errors_show_at_their_fields(page: Page, shot, tiny_model: Path, formats_dir: Path):
    page.goto("/new")
    register_tiny_model(page, tiny_model)
    lora_mode(page, "Custom")
    rank = page.locator("#f-lora-r")
    rank.fill("0")
    expect(rank).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-lora-r-err")).to_contain_text("at least 1")

    page.get_by_role("button", name=re.compile("Next: Dataset")).click()
    page.get_by_role("button", name=re.compile("Next: Training")).click()
    lr = page.locator("#f-train-learning_rate")
    lr.fill("5")
    expect(lr).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-train-learning_rate-err")).to_contain_text("at most 1")
    # Start names what is missing instead of greying out, and takes you there.
    start = page.get_by_role("complementary", name="Run summary").get_by_test_id("start")
    expect(start).to_contain_text("Fix Rank (r) (+2 more)")
    shot("10-field-errors")
    start.click()
    # Going back kept what was typed: the rank is still 0, and flagged.
    expect(page.locator("#f-lora-r")).to_have_value("0")
    page.locator("#f-lora-r").fill("8")
    expect(start).to_contain_text("Choose a dataset")
    start.click()
    expect(page.get_by_role("heading", name="Training data")).to_be_visible()
    upload(page, formats_dir / "alpaca_sample.json")
    expect(page.get_by_test_id("validation-report")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name=re.compile("Next: Training")).click()
    expect(lr).to_have_value("5")
    lr.fill("0.0002")
    expect(lr).not_to_have_attribute("aria-invalid", "true")

    # A rule only the server knows (evaluating without eval data) comes back as a 422 and
    # lands on its field, on the step that shows it.
    fill(page, "train.eval_steps", "5")
    page.get_by_role("button", name=re.compile("Next: Review")).click()
    page.get_by_role("region", name="Run").get_by_role("button", name="Start training").click()
    error = page.locator("#f-train-eval_steps-err")
    expect(error).to_be_visible()
    expect(error).to_contain_text("eval")
    expect(page.locator("#f-train-eval_steps")).to_have_attribute("aria-invalid", "true")
    page.locator("#f-train-eval_steps").scroll_into_view_if_needed()
    shot("11-server-field-error")


def test_lists_of_runs_datasets_models_and_configs(page: Page, shot, server, formats_dir: Path):
    # Its own inputs, made through the API, so it does not depend on the other tests.
    with open(formats_dir / "dolly_sample.csv", "rb") as fh:
        r = httpx.post(
            f"{server.url}/api/datasets/upload", files={"file": ("dolly_sample.csv", fh)}
        )
    assert r.status_code == 201, r.text
    config = {
        "model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"},
        "data": {"source": f"dataset:{r.json()['id']}", "max_samples": 500},
        "lora": {"r": 32, "alpha": 64},
    }
    body = {"name": "qwen dolly", "description": "Dolly on Qwen2.5 0.5B", "config": config}
    r = httpx.post(f"{server.url}/api/configs", json=body)
    assert r.status_code == 201, r.text

    page.goto("/")
    expect(page.get_by_role("heading", name="Runs", level=1)).to_be_visible()
    shot("12-runs")

    page.goto("/datasets")
    row = page.get_by_role("row", name=re.compile("dolly_sample.csv"))
    expect(row).to_contain_text("dolly")
    shot("13-datasets")
    row.get_by_role("link").click()
    expect(page.get_by_test_id("sample-preview")).to_be_visible()
    page.get_by_role("tab", name="Statistics").click()
    expect(page.get_by_text("Characters per sample")).to_be_visible()
    page.get_by_role("tab", name="Validation report").click()
    expect(page.get_by_test_id("validation-report")).to_be_visible()
    shot("14-dataset-report")

    page.goto("/models")
    expect(page.get_by_role("heading", name="Local base models")).to_be_visible()
    page.get_by_test_id("adapters-link").get_by_role("link", name="Open the adapters").click()
    expect(page.get_by_role("heading", name="Adapters", level=1)).to_be_visible()
    page.goto("/models")
    expect(page.get_by_role("heading", name="Local base models")).to_be_visible()
    shot("15-models")

    page.goto("/configs")
    row = page.get_by_role("row", name=re.compile("qwen dolly"))
    expect(row).to_contain_text("Qwen/Qwen2.5-0.5B-Instruct")
    shot("16-configs")
    row.get_by_role("button", name="Load into wizard").click()
    expect(page).to_have_url(re.compile("/new$"))
    expect(page.get_by_text("from config “qwen dolly”")).to_be_visible()
    yaml_text = page.get_by_test_id("config-yaml").inner_text()
    assert "Qwen/Qwen2.5-0.5B-Instruct" in yaml_text and "r: 32" in yaml_text


def test_dataset_validation_job_is_listed_apart_from_runs(page: Page, shot, server, tmp_path):
    # A file over the server's inline limit (20 MiB) is checked by a `validate` job: it shows on
    # the Jobs page with a link to its dataset, and never in the runs list.
    big = tmp_path / "big_alpaca.jsonl"
    row = '{"instruction": "Say something about the number %d.", "output": "%s"}\n'
    with open(big, "w") as fh:
        i = 0
        while fh.tell() < 21 * 1024 * 1024:
            fh.write(row % (i, "It is a number, and numbers are useful. " * 6))
            i += 1
    with open(big, "rb") as fh:
        r = httpx.post(
            f"{server.url}/api/datasets/upload", files={"file": (big.name, fh)}, timeout=120
        )
    assert r.status_code in (201, 202), r.text
    dataset_id = r.json()["id"]

    page.goto("/jobs")
    jobs = page.get_by_test_id("jobs-table")
    validation = jobs.locator("tr[data-kind=validate]")
    expect(validation).to_have_count(1)
    expect(validation).to_contain_text("Dataset validation")
    expect(validation.locator(f"[data-ref='dataset:{dataset_id}']")).to_have_text(big.name)
    expect(validation.locator("[data-status]")).to_have_text("completed", timeout=180_000)
    shot("20-jobs")
    expect(page.get_by_role("navigation", name="Runs")).not_to_contain_text("validat")

    validation.get_by_role("link").first.click()
    expect(page.get_by_test_id("job-status")).to_have_text("completed")
    expect(page.get_by_test_id("job-result")).to_contain_text("valid rows")
    page.get_by_test_id("job-result").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(f"/datasets/{dataset_id}$"))
