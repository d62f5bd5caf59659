"""The Training step's presets follow the chosen method: each method lists its own presets, and
choosing one sets that method's own fields as well as the shared ones (real schema, real server)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from loralab.config import load_preset

pytestmark = pytest.mark.browser

DPO = "Preference pairs (DPO)"
GRPO = "Rewards (GRPO / GSPO)"


def open_step(page: Page, label: str) -> None:
    page.get_by_role("list", name="Steps").get_by_role("button", name=re.compile(label)).click()


def review_train(page: Page) -> dict[str, Any]:
    open_step(page, "Review")
    return yaml.safe_load(page.get_by_test_id("config-yaml").inner_text())["train"]


def presets_group(page: Page):
    return page.get_by_role("group", name="Presets")


def test_each_method_lists_its_own_presets_and_applies_its_fields(page: Page, shot):
    page.goto("/new")
    open_step(page, "Training")
    picker = page.get_by_role("radiogroup", name="Training method")
    expect(presets_group(page).get_by_role("button")).to_have_count(3)  # sft's

    picker.get_by_role("radio", name=GRPO).check()
    buttons = presets_group(page).get_by_role("button")
    expect(buttons).to_have_count(4)
    expect(presets_group(page)).to_contain_text("GSPO")
    expect(presets_group(page)).to_contain_text("Dr. GRPO")
    presets_group(page).get_by_role("button", name=re.compile("GSPO")).click()
    expect(presets_group(page).get_by_role("button", name=re.compile("GSPO"))).to_have_attribute(
        "aria-pressed", "true"
    )
    shot("23-method-presets")
    train = review_train(page)
    gspo = load_preset("gspo", "grpo")["train"]
    assert train["method"] == "grpo"
    assert train["importance_sampling_level"] == "sequence" and train["loss_type"] == "grpo"
    assert train["epsilon"] == gspo["epsilon"] and train["num_generations"] == 8

    open_step(page, "Training")
    picker.get_by_role("radio", name=DPO).check()
    # The values stay (the picker keeps shared values), so no preset is marked any more.
    expect(
        presets_group(page).get_by_role("button", name=re.compile("^quality", re.I))
    ).to_have_attribute("aria-pressed", "false")
    presets_group(page).get_by_role("button", name=re.compile("^quality", re.I)).click()
    train = review_train(page)
    quality = load_preset("quality", "dpo")["train"]
    assert train["method"] == "dpo"
    assert train["learning_rate"] == quality["learning_rate"] and train["beta"] == quality["beta"]
    assert "importance_sampling_level" not in train  # GRPO's own fields left with GRPO
