"""``loralab models list | estimate | hardware | make-tiny`` through Typer's CliRunner."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from loralab.cli.models_cmd import app
from loralab.errors import ConfigError, ModelError, NotFound

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", "HF_HUB_OFFLINE": "1"})


def test_list_shows_the_catalog_and_filters_by_family():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert "Qwen/Qwen2.5-0.5B-Instruct" in result.output
    assert "meta-llama/Llama-3.2-1B-Instruct" in result.output

    result = invoke("list", "--family", "phi", "--json")
    assert result.exit_code == 0
    entries = json.loads(result.output)
    assert {e["family"] for e in entries} == {"phi"}
    assert entries[0]["dims"]["hidden_size"] == 3072


def test_list_unknown_family_raises_not_found():
    result = invoke("list", "--family", "gpt")
    assert isinstance(result.exception, NotFound)


def test_estimate_prints_breakdown_and_verdict_for_a_catalog_model():
    result = invoke("estimate", "Qwen/Qwen2.5-0.5B-Instruct", "--seq-len", "512")
    assert result.exit_code == 0, result.output
    for word in ("weights", "activations", "optimizer", "total"):
        assert word in result.output
    assert any(v in result.output for v in ("fits:", "tight:", "wont_fit:"))


def test_estimate_says_auto_and_what_auto_decides(tiny_model):
    result = invoke("estimate", str(tiny_model), "--seq-len", "256")
    assert result.exit_code == 0, result.output
    # The tiny model fits anywhere: auto leaves checkpointing off; on the CPU the loss chunks.
    assert "gradient checkpointing auto (off)" in result.output
    assert re.search(r"chunked loss auto \((on|off)\)", result.output)
    result = invoke("estimate", str(tiny_model), "--gradient-checkpointing")
    assert "gradient checkpointing on," in result.output


def test_estimate_options_reach_the_config(tiny_model):
    result = invoke(
        "estimate", str(tiny_model), "--json", "--batch-size", "4", "--seq-len", "256",
        "--r", "8", "--no-gradient-checkpointing",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    est = json.loads(result.output)
    assert est["tokens_per_micro_batch"] == 1024
    # r=8 on 7 linear layers of 2 blocks: 8 * (512+512 + 2*(256+128) + 512+256 + 2*(256+512)
    # + 512+256) per block, with hidden 256, 4 heads x 64, 2 kv heads x 64, intermediate 512.
    per_block = 8 * ((256 + 256) + 2 * (256 + 128) + (256 + 256) + 2 * (256 + 512) + (512 + 256))
    assert est["trainable_parameters"] == 2 * per_block


def test_estimate_with_a_config_file(tiny_model, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "model: {name_or_path: placeholder}\n"
        "data: {source: data.jsonl}\n"
        "lora: {r: 4}\n"
        "train: {batch_size: 3, max_seq_length: 128}\n"
    )
    result = invoke("estimate", str(tiny_model), "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    est = json.loads(result.output)
    assert est["model"] == str(tiny_model)
    assert est["tokens_per_micro_batch"] == 3 * 128


def test_estimate_bad_input_raises_loralab_errors(tmp_path):
    result = invoke("estimate", "Qwen/Qwen3-0.6B", "--quantization", "3bit")
    assert isinstance(result.exception, ConfigError)
    result = invoke("estimate", str(tmp_path / "missing"))
    assert isinstance(result.exception, ModelError)
    result = invoke("estimate", "someone/not-in-catalog")
    assert isinstance(result.exception, ModelError)


def test_hardware_reports_device_and_accelerators():
    result = invoke("hardware", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["device"] in ("cpu", "cuda")
    assert [a["name"] for a in data["accelerators"]][0] == "bitsandbytes"


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_make_tiny_writes_a_loadable_model(tmp_path, arch):
    from transformers import AutoConfig

    out = tmp_path / "tiny"
    result = invoke("make-tiny", str(out), "--arch", arch)
    assert result.exit_code == 0, result.output
    assert AutoConfig.from_pretrained(out).model_type == arch
    assert (out / "chat_template.jinja").is_file()


def test_make_tiny_unknown_arch_raises_model_error(tmp_path):
    result = invoke("make-tiny", str(tmp_path / "x"), "--arch", "gpt2")
    assert isinstance(result.exception, ModelError)
