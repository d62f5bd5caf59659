"""Every example under examples/ is a valid run config, and the local files it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loralab.config import load_run_config
from loralab.data import is_local_source

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
# Examples that train on a local file (the others name hub datasets, unreachable here).
LOCAL_DATA = [p for p in EXAMPLES if is_local_source(load_run_config(p).data.source)]


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"tiny-cpu.yaml", "qwen2.5-0.5b-finetome.yaml", "llama3.2-1b-alpaca.yaml"} <= names
    assert LOCAL_DATA, "at least one example must run offline"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_a_valid_run_config(path):
    config = load_run_config(path)  # the real schema, cross-field checks included

    assert config.name and config.output.dir.startswith("outputs/")
    assert path.read_text().startswith("#"), "start with a comment saying what it is for"
    assert f"loralab train examples/{path.name}" in path.read_text()


@pytest.mark.parametrize("path", LOCAL_DATA, ids=lambda p: p.name)
def test_local_data_named_by_an_example_exists(path, shared_data):
    source = load_run_config(path).data.source
    # Paths are relative to the repo root, where users run `loralab train`; ../shared/data may
    # live elsewhere in CI ($LORALAB_SHARED_DATA).
    if source.startswith("../shared/data/"):
        resolved = shared_data / source.removeprefix("../shared/data/")
    else:
        resolved = REPO / source
    assert resolved.is_file(), f"{path.name}: {source} does not exist"


def test_tiny_example_says_how_to_build_its_model():
    text = (REPO / "examples" / "tiny-cpu.yaml").read_text()
    config = load_run_config(REPO / "examples" / "tiny-cpu.yaml")

    made = re.search(r"loralab models make-tiny (\S+)", text)
    assert made and made.group(1) == config.model.name_or_path
    assert config.model.quantization == "none" and not config.train.gradient_checkpointing
