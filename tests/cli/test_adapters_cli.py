"""``loralab adapters`` as a user runs it: real subprocesses on a temp data dir, a real PEFT
adapter of the tiny model, and PEFT loading what ``download`` wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from loralab.config import Settings
from loralab.services.models import ModelRegistration, register_model
from loralab.store import Database, JobRow, migrate, new_id

REPO = Path(__file__).resolve().parents[2]


def _loralab() -> list[str]:
    script = Path(sys.executable).with_name("loralab")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from loralab.cli import main; main()"]


def _adapters(data_dir: Path, *args: str, stdin: str | None = None):
    return subprocess.run(
        [*_loralab(), "adapters", *args, "--data-dir", str(data_dir)],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _error_code(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr.split("error[", 1)[1].split("]", 1)[0]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def db(data_dir):
    database = Database(Settings(data_dir=data_dir).resolved_database_url)
    migrate(database)
    yield database
    database.dispose()


@pytest.fixture
def base_ref(db, tiny_model) -> str:
    return f"model:{register_model(db, ModelRegistration(path=str(tiny_model))).id}"


@pytest.mark.slow
def test_register_list_show_download_delete_round_trip(
    data_dir, base_ref, peft_adapter, tiny_model, tmp_path
):
    register = ["register", str(peft_adapter), "--base-model", base_ref, "--name", "tiny lora"]
    registered = json.loads(_ok(_adapters(data_dir, *register, "--json")))
    adapter_id = registered["id"]

    assert registered["source"] == "external" and registered["base_ref"] == base_ref
    assert registered["info"]["r"] == 4
    listed = json.loads(_ok(_adapters(data_dir, "list", "--json")))
    assert [a["id"] for a in listed] == [adapter_id]
    assert adapter_id in _ok(_adapters(data_dir, "list"))
    shown = json.loads(_ok(_adapters(data_dir, "show", adapter_id, "--json")))
    assert {f["name"] for f in shown["files"]} >= {
        "adapter_config.json",
        "adapter_model.safetensors",
    }
    assert "adapter_model.safetensors" in _ok(_adapters(data_dir, "show", adapter_id))

    target = tmp_path / "out" / "tiny.zip"
    printed = _ok(_adapters(data_dir, "download", adapter_id, "-o", str(target))).strip()

    assert Path(printed) == target.resolve()
    with zipfile.ZipFile(target) as archive:
        assert {"adapter_config.json", "adapter_model.safetensors"} <= set(archive.namelist())
        archive.extractall(tmp_path / "unzipped")
    into_folder = _ok(_adapters(data_dir, "download", adapter_id, "-o", f"{tmp_path}/zips/"))
    assert Path(into_folder.strip()) == tmp_path / "zips" / f"tiny-lora-{adapter_id[:8]}.zip"
    assert not list((data_dir / "tmp").iterdir())  # the scratch zips were moved, not copied
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    loaded = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), tmp_path / "unzipped"
    )
    assert any("lora_A" in name for name, _ in loaded.named_parameters())

    refused = _adapters(data_dir, "delete", adapter_id, stdin="n\n")
    assert refused.returncode != 0
    assert len(json.loads(_ok(_adapters(data_dir, "list", "--json")))) == 1

    _ok(_adapters(data_dir, "delete", adapter_id, "--yes"))

    assert json.loads(_ok(_adapters(data_dir, "list", "--json"))) == []
    assert _error_code(_adapters(data_dir, "show", adapter_id)) == "adapter_not_found"
    assert (peft_adapter / "adapter_model.safetensors").is_file()  # a registered folder stays


def test_register_pickled_weights_is_invalid_adapter(data_dir, base_ref, peft_adapter, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "adapter_config.json").write_bytes(
        (peft_adapter / "adapter_config.json").read_bytes()
    )
    (folder / "adapter_model.bin").write_bytes(b"not loaded")

    result = _adapters(data_dir, "register", str(folder), "--base-model", base_ref)

    assert _error_code(result) == "invalid_adapter"
    assert json.loads(_ok(_adapters(data_dir, "list", "--json"))) == []


def test_register_missing_folder_is_invalid_adapter(data_dir, base_ref, tmp_path):
    result = _adapters(data_dir, "register", str(tmp_path / "nope"), "--base-model", base_ref)

    assert _error_code(result) == "invalid_adapter"


def test_unknown_id_is_adapter_not_found(data_dir):
    for command in ("show", "download", "delete"):
        args = [command, "0" * 32] + (["--yes"] if command == "delete" else [])
        assert _error_code(_adapters(data_dir, *args)) == "adapter_not_found", command


def test_promote_copies_a_complete_checkpoint(db, data_dir, tiny_model, peft_adapter, tmp_path):
    run = tmp_path / "run"
    checkpoint = run / "checkpoints" / "checkpoint-2"
    checkpoint.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (checkpoint / name).write_bytes((peft_adapter / name).read_bytes())
    (checkpoint / "optimizer.pt").write_bytes(b"optimizer state")
    (checkpoint / "COMPLETE").write_text("")
    job_id = new_id()
    config = {"name": "tiny run", "model": {"name_or_path": str(tiny_model)}}
    with db.write() as session:
        session.add(
            JobRow(id=job_id, kind="train", status="completed", config=config, output_dir=str(run))
        )

    promoted = json.loads(_ok(_adapters(data_dir, "promote", job_id, "2", "--json")))

    assert promoted["source"] == "checkpoint" and promoted["step"] == 2
    assert promoted["job_id"] == job_id and promoted["name"] == "tiny run @ step 2"
    assert sorted(p.name for p in Path(promoted["path"]).iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    missing = _adapters(data_dir, "promote", job_id, "3")
    assert _error_code(missing) == "checkpoint_not_found"

    _ok(_adapters(data_dir, "delete", promoted["id"], "--yes"))

    assert not Path(promoted["path"]).exists()  # loralab's copy goes with the adapter
    assert checkpoint.is_dir()
