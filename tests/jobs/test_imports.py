"""The server side of jobs never loads the ML stack; only the worker process does."""

from __future__ import annotations

import subprocess
import sys

ML = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


def test_server_side_of_jobs_does_not_import_the_ml_stack(tmp_path):
    code = f"""
import sys
from loralab.config import Settings
from loralab.api.app import create_app
import loralab.jobs, loralab.services.jobs, loralab.services.job_outputs
create_app(Settings(data_dir={str(tmp_path)!r}))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {ML!r})
assert not loaded, loaded
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_worker_without_a_job_id_prints_usage():
    result = subprocess.run(
        [sys.executable, "-m", "loralab.jobs.worker"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "usage" in result.stderr
