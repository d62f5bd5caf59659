"""GRPO from the browser, as the issue's user does it: the GSM8K sample, the math and format
rewards with solution markers, scoring them on dataset rows, an SFT warm-up then GRPO, and the
reward, KL and completion-length charts on the run page. Real server, worker and Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .test_ui import build_demo_model, fill, upload

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_grpo_with_warmup_and_rewards_from_the_wizard(page: Page, shot, formats_dir: Path):
    page.goto("/new")
    build_demo_model(page)
    page.get_by_role("button", name=re.compile("Next: Dataset")).click()
    upload(page, formats_dir / "gsm8k_train.jsonl")
    expect(page.get_by_test_id("validation-report")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name=re.compile("Next: Training")).click()

    # The method picker: GRPO swaps in its own fields, and the rewards card appears.
    page.get_by_role("radio", name="Rewards (GRPO / GSPO)").check()
    rewards = page.get_by_test_id("reward-tester")
    expect(rewards).to_be_visible()
    expect(page.get_by_label("Reward 1", exact=True)).to_have_value("math_answer")
    expect(page.get_by_label("Reward 2", exact=True)).to_have_value("format")
    expect(page.get_by_label("Marker solution start")).to_have_value("<SOLUTION>")

    # Score the rewards on a typed completion and on the dataset's rows before training.
    page.get_by_label("Completion", exact=True).fill(
        "<start_working_out>6 times 7<end_working_out><SOLUTION>42</SOLUTION>"
    )
    page.get_by_label("Answer", exact=True).fill("#### 42")
    rewards.get_by_role("button", name="Score").click()
    scores = page.get_by_role("table", name="Reward scores")
    expect(scores).to_be_visible(timeout=30_000)
    expect(scores).to_contain_text("3")  # math 1 x2 + format 1 x1
    shot("27-grpo-rewards")

    fill(page, "train.num_generations", "2")
    fill(page, "train.max_completion_length", "12")
    fill(page, "train.beta", "0.04")  # so KL is logged
    page.locator("#f-train-warmup").fill('{"epochs": 1, "max_samples": 4}')
    fill(page, "train.max_steps", "2")
    fill(page, "train.batch_size", "2")
    fill(page, "train.gradient_accumulation_steps", "1")
    fill(page, "train.max_seq_length", "256")
    fill(page, "data.max_samples", "8")
    page.locator("#f-train-gradient_checkpointing").select_option("off")

    page.get_by_role("button", name=re.compile("Next: Review")).click()
    yaml_text = page.get_by_test_id("config-yaml").inner_text()
    assert "method: grpo" in yaml_text and "math_answer" in yaml_text and "warmup:" in yaml_text
    page.get_by_role("region", name="Run").get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))

    # The run trains (warm-up, then GRPO) and charts its reward, KL and completion length.
    expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=300_000)
    for family in ("reward", "kl", "completion-length"):
        expect(page.get_by_test_id(f"metric-chart-{family}")).to_be_visible(timeout=30_000)
    shot("28-grpo-run")
