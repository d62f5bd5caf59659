"""A KTO dataset in the browser: replies labelled good or bad (TRL's prompt, completion, label)
are uploaded from the datasets page; the samples, statistics and report show each label and
their counts, and the mapping editor lists the format's three columns. Real server, Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS = [
    {"prompt": "What is 2 + 2?", "completion": "4", "label": True},
    {"prompt": "What is 2 + 2?", "completion": "5", "label": False},
    {"prompt": "Name a primary colour.", "completion": "Red.", "label": "good"},
    {"prompt": "Name a primary colour.", "completion": "Purple.", "label": "bad"},
    {"prompt": "Capital of France?", "completion": "Paris.", "label": 1},
]


def test_labelled_replies_show_their_labels_everywhere(page: Page, shot, tmp_path: Path):
    path = tmp_path / "kto_labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")

    page.goto("/datasets")
    page.locator("#ds-upload").set_input_files(str(path))
    preview = page.get_by_test_id("sample-preview")
    expect(preview).to_be_visible(timeout=60_000)
    # Each rendered row carries its label, in the file's order.
    labels = preview.locator("[data-label]")
    expect(labels).to_have_count(len(ROWS))
    assert [labels.nth(i).get_attribute("data-label") for i in range(len(ROWS))] == [
        "good",
        "bad",
        "good",
        "bad",
        "good",
    ]
    expect(labels.first).to_have_text("good reply")
    shot("30-kto-samples")

    page.get_by_role("tab", name="Statistics").click()
    balance = page.get_by_test_id("label-balance")
    expect(balance).to_contain_text("3 good")
    expect(balance).to_contain_text("2 bad")

    page.get_by_role("tab", name="Validation report").click()
    expect(page.get_by_test_id("label-counts")).to_contain_text("3 / 2")

    page.get_by_role("tab", name="Field mapping").click()
    mapping = page.get_by_test_id("field-mapping")
    fmt = mapping.locator("#map-format")
    expect(fmt).to_have_value("unpaired_preference")
    expect(fmt.locator("option:checked")).to_have_text("Labelled replies (good or bad, for KTO)")
    for field in ("prompt", "completion", "label"):
        expect(mapping.locator(f"#map-{field}")).to_have_value(field)
    # All three are required: none offers "(none)".
    expect(mapping.locator("#map-label option").first).to_have_text("(choose a column)")
