"""Fixtures for the engine tests: two adapters that change the tiny model, and one engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import make_adapter


@pytest.fixture(scope="session")
def lora_a(tiny_model: Path, tmp_path_factory) -> Path:
    return make_adapter(tiny_model, tmp_path_factory.mktemp("lora-a"), seed=1)


@pytest.fixture(scope="session")
def lora_b(tiny_model: Path, tmp_path_factory) -> Path:
    return make_adapter(tiny_model, tmp_path_factory.mktemp("lora-b"), seed=2)


@pytest.fixture(scope="module")
def engine():
    from loralab.inference import Engine

    return Engine()
