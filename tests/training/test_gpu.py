"""On a CUDA GPU: bf16 autocast and QLoRA (4-bit base) train the tiny model and save an adapter.

Skipped only where no CUDA device exists (see tests/conftest.py)."""

from __future__ import annotations

import importlib.util

import pytest

from loralab.training import ListReporter, train

from .conftest import tiny_config

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("quantization", ["none", "4bit"])
def test_tiny_run_on_cuda(tiny_llama, finetome, tmp_path, quantization):
    if quantization == "4bit" and importlib.util.find_spec("bitsandbytes") is None:
        pytest.fail("QLoRA needs bitsandbytes on a CUDA machine: pip install loralab[gpu]")
    config = tiny_config(tiny_llama, finetome, tmp_path / "out", max_steps=4)
    config.model.dtype = "bfloat16"
    config.model.quantization = quantization

    reporter = ListReporter()
    result = train(config, reporter)

    started = reporter.events[[e.type for e in reporter.events].index("run_started")]
    assert started.device == "cuda"
    assert result.status == "completed"
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
