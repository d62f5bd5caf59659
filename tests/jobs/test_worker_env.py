"""Workers start with an environment built on purpose: a real job worker and a real inference
worker, launched as the server launches them, lack the secrets planted in the server's
environment and have what a run needs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from loralab.config import Settings
from loralab.jobs import launch_worker
from loralab.jobs.inference_process import InferenceProcess
from loralab.store import Database, migrate

from .conftest import make_settings

PLANTED = "planted-secret-value"
SECRETS = ("LORALAB_TEST_SECRET", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_SECRET_ACCESS_KEY")
SERVER_DB_URL = f"postgresql+psycopg://loralab:{PLANTED}@db.example/loralab"


@pytest.fixture
def server_env(tmp_path, monkeypatch) -> Path:
    """The server's environment: planted secrets, the variables a run needs, and a
    ``sitecustomize`` on PYTHONPATH that writes each started Python's ``os.environ`` to a file
    (a worker that exits at once is gone before /proc could be read)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(
        "import json, os\n"
        f"with open({str(tmp_path)!r} + f'/environ-{{os.getpid()}}.json', 'w') as fh:\n"
        "    json.dump(dict(os.environ), fh)\n"
    )
    for name in SECRETS:
        monkeypatch.setenv(name, PLANTED)
    monkeypatch.setenv("LORALAB_TOKEN", PLANTED)
    monkeypatch.setenv("LORALAB_DATABASE_URL", SERVER_DB_URL)
    monkeypatch.setenv("PYTHONPATH", str(probe))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    return tmp_path


def _store_settings(data_dir: Path, **extra) -> Settings:
    """Settings with a migrated SQLite store, so the worker gets as far as reading its job."""
    data_dir.mkdir(parents=True)
    settings = make_settings(data_dir, None, **extra)
    db = Database(settings.resolved_database_url)
    migrate(db)
    db.dispose()
    return settings


def _recorded(folder: Path, pid: int) -> dict[str, str]:
    return json.loads((folder / f"environ-{pid}.json").read_text())


def _assert_no_secrets(env: dict[str, str]) -> None:
    assert not [k for k, v in env.items() if PLANTED in v], "a planted secret reached the worker"
    assert not set(SECRETS) & env.keys()
    assert "LORALAB_TOKEN" not in env


def _assert_what_a_run_needs(env: dict[str, str], folder: Path) -> None:
    assert env["PATH"] == os.environ["PATH"]
    assert env["HOME"] == os.environ["HOME"]
    assert env["PYTHONPATH"] == str(folder / "probe")
    assert env["HF_HOME"] == str(folder / "hf") and env["HF_HUB_OFFLINE"] == "1"
    assert env["OMP_NUM_THREADS"] == "1" and env["LC_ALL"] == "C.UTF-8"


def test_job_worker_gets_the_store_but_no_secrets(server_env, tmp_path):
    settings = _store_settings(tmp_path / "data")
    proc = launch_worker("0" * 32, settings, tmp_path / "out", attempt=1, devices="")
    assert proc.wait(timeout=180) == 3  # no such job: the worker found the store and left
    env = _recorded(server_env, proc.pid)

    _assert_no_secrets(env)
    _assert_what_a_run_needs(env, server_env)
    # It reports through the store, so it gets the server's database (given explicitly) ...
    assert env["LORALAB_DATABASE_URL"] == settings.resolved_database_url
    assert env["LORALAB_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert env["LORALAB_HEARTBEAT_SECONDS"] == "0.5"
    assert env["CUDA_VISIBLE_DEVICES"] == ""  # ... and the devices the scheduler chose
    assert {k for k in env if k.startswith("LORALAB_")} == {
        "LORALAB_DATA_DIR",
        "LORALAB_DATABASE_URL",
        "LORALAB_HEARTBEAT_SECONDS",
        "LORALAB_HEARTBEAT_TIMEOUT_SECONDS",
        "LORALAB_CANCEL_GRACE_SECONDS",
        "LORALAB_ALLOW_CUSTOM_REWARDS",
        "LORALAB_ALLOW_REMOTE_CODE",
    }


def test_a_variable_named_in_worker_env_is_passed(server_env, tmp_path):
    settings = _store_settings(tmp_path / "data", worker_env=["HF_TOKEN"])
    proc = launch_worker("0" * 32, settings, tmp_path / "out", attempt=1, devices="")
    assert proc.wait(timeout=180) == 3
    env = _recorded(server_env, proc.pid)
    assert env["HF_TOKEN"] == PLANTED  # asked for by name
    assert "LORALAB_TEST_SECRET" not in env and "HUGGING_FACE_HUB_TOKEN" not in env


def test_inference_worker_gets_neither_secrets_nor_the_database(server_env, tmp_path):
    settings = make_settings(tmp_path / "data", SERVER_DB_URL.replace(PLANTED, "pw"))
    worker = InferenceProcess(settings, startup_timeout=300)
    try:
        worker.ensure()
        assert worker.pid is not None
        # Read from the running process itself, as the kernel started it.
        raw = Path(f"/proc/{worker.pid}/environ").read_bytes()
        env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    finally:
        worker.stop()
    _assert_no_secrets(env)
    _assert_what_a_run_needs(env, server_env)
    assert "LORALAB_INFERENCE_TOKEN" in env  # its own per-start token, nothing of the server's
    assert not [k for k in env if k.startswith("LORALAB_") and k != "LORALAB_INFERENCE_TOKEN"]


def test_worker_refuses_remote_code_the_server_does_not_allow(tmp_path):
    """A job queued while the server allowed remote code, launched by a server that does not
    (a restart without --allow-remote-code): the worker refuses before loading anything."""
    import threading

    from loralab.config import Settings
    from loralab.errors import ConfigError
    from loralab.jobs.worker import run_job
    from loralab.store.tables import JobRow

    job = JobRow(
        id="j1",
        kind="train",
        config={"model": {"name_or_path": "some/model", "trust_remote_code": True}},
    )
    settings = Settings(data_dir=tmp_path, allow_remote_code=False)
    with pytest.raises(ConfigError) as info:
        run_job(job, None, threading.Event(), settings)
    assert info.value.code == "remote_code_not_allowed"
    assert "--allow-remote-code" in (info.value.fix or "")
