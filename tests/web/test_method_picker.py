"""The Training step's method picker, with a second method the real schema does not have yet.

The server's ``/api/schema/run-config`` is answered with the real pydantic schema of
``tests/config/toy_method.ToyRunConfig`` (SFT plus a test-only ``toy`` method), so the UI meets
a two-member discriminated union exactly as it will when a real second method lands.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

TOY_METHOD = Path(__file__).resolve().parents[1] / "config" / "toy_method.py"
SFT = "Supervised fine-tuning (SFT)"
TOY = "Toy preference tuning"


def toy_schema() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("toy_method_for_ui", TOY_METHOD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the module's annotations through it
    spec.loader.exec_module(module)
    return module.ToyRunConfig.model_json_schema()


def serve_schema(page: Page, schema: dict[str, Any]) -> None:
    def fulfill(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(schema))

    page.route(re.compile(r"/api/schema/run-config$"), fulfill)


def open_step(page: Page, label: str) -> None:
    page.get_by_role("list", name="Steps").get_by_role("button", name=re.compile(label)).click()


def field(page: Page, path: str):
    return page.locator(f"#f-{path.replace('.', '-')}")


def review_config(page: Page) -> dict[str, Any]:
    open_step(page, "Review")
    text = page.get_by_test_id("config-yaml").inner_text()
    return yaml.safe_load(text)


def test_switching_method_swaps_its_fields_and_keeps_the_shared_ones(page: Page, shot):
    serve_schema(page, toy_schema())
    page.goto("/new")
    open_step(page, "Training")

    picker = page.get_by_role("radiogroup", name="Training method")
    expect(picker.get_by_role("radio")).to_have_count(2)
    sft, toy = picker.get_by_role("radio", name=SFT), picker.get_by_role("radio", name=TOY)
    expect(sft).to_be_checked()
    expect(toy).to_have_accessible_description(re.compile("test-only method"))
    expect(field(page, "train.assistant_only_loss")).to_be_visible()
    expect(field(page, "train.padding_free")).to_be_visible()
    expect(field(page, "train.beta")).to_have_count(0)

    # A shared field set under SFT survives the switch; the keyboard moves the choice.
    field(page, "train.learning_rate").fill("0.0005")
    sft.focus()
    page.keyboard.press("ArrowDown")
    expect(toy).to_be_checked()
    expect(field(page, "train.beta")).to_have_value("0.1")
    expect(page.get_by_test_id("method-fields")).to_contain_text("How far the tuned model may")
    expect(field(page, "train.assistant_only_loss")).to_have_count(0)
    expect(field(page, "train.padding_free")).to_have_count(0)
    expect(field(page, "train.learning_rate")).to_have_value("0.0005")
    field(page, "train.beta").fill("0.3")
    shot("22-method-picker")

    train = review_config(page)["train"]
    assert train["method"] == "toy"
    assert train["beta"] == 0.3 and train["reference_free"] is False
    assert train["learning_rate"] == 0.0005
    assert "padding_free" not in train and "assistant_only_loss" not in train

    # The choice is kept across a reload (the wizard's sessionStorage), then back to SFT.
    page.reload()
    open_step(page, "Training")
    expect(toy).to_be_checked()
    sft.check()
    expect(field(page, "train.beta")).to_have_count(0)
    expect(field(page, "train.padding_free")).to_be_checked()
    train = review_config(page)["train"]
    assert train["method"] == "sft" and "beta" not in train
    assert train["padding_free"] is True and train["learning_rate"] == 0.0005


def test_a_preset_keeps_the_chosen_method(page: Page):
    serve_schema(page, toy_schema())
    page.goto("/new")
    open_step(page, "Training")
    page.get_by_role("radio", name=TOY).check()
    page.get_by_role("group", name="Presets").get_by_role("button", name=re.compile("fast")).click()
    expect(page.get_by_role("radio", name=TOY)).to_be_checked()
    train = review_config(page)["train"]
    assert train["method"] == "toy" and train["max_steps"] == 60  # the preset's shared value
    assert "padding_free" not in train


def test_the_real_schema_offers_every_method_with_sft_first(page: Page):
    from loralab.config.run import TRAIN_METHODS

    page.goto("/new")
    open_step(page, "Training")
    picker = page.get_by_role("radiogroup", name="Training method")
    expect(picker.get_by_role("radio")).to_have_count(len(TRAIN_METHODS))
    expect(picker.get_by_role("radio", name=SFT)).to_be_checked()
    expect(picker).to_contain_text("Supervised fine-tuning on conversations.")
    for method in TRAIN_METHODS[1:]:
        expect(
            picker.get_by_role("radio", name=method.model_json_schema()["title"])
        ).to_be_visible()
    assert review_config(page)["train"]["method"] == "sft"
