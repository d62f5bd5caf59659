"""/api/system: the machine's resources, from psutil and nvidia-smi (no torch)."""

from __future__ import annotations

import os
import stat


def test_system_reports_cpu_memory_disk_and_device(client):
    r = client.get("/api/system")
    assert r.status_code == 200
    info = r.json()
    assert info["cpu"]["cores"] >= 1
    assert 0 <= info["cpu"]["percent"] <= 100
    assert info["memory"]["total_gb"] > 0
    assert 0 < info["memory"]["available_gb"] <= info["memory"]["total_gb"]
    assert 0 < info["disk"]["free_gb"] <= info["disk"]["total_gb"]
    assert info["device"] in ("cuda", "cpu")
    assert info["verdict"]
    assert {a["name"] for a in info["accelerators"]} >= {"bitsandbytes", "flash-attn"}
    if info["device"] == "cpu":
        assert not any(a["active"] for a in info["accelerators"])


def test_system_reads_gpus_from_nvidia_smi(client, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        "echo '0, NVIDIA H100 80GB HBM3, 81559, 1024, 37, 9.0'\n"
        "echo '1, NVIDIA H100 80GB HBM3, 81559, 40960, 99, 9.0'\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    info = client.get("/api/system").json()
    assert info["device"] == "cuda"
    assert [g["index"] for g in info["gpus"]] == [0, 1]
    first = info["gpus"][0]
    assert first["name"] == "NVIDIA H100 80GB HBM3"
    assert first["memory_total_gb"] > 79
    assert first["memory_used_gb"] == 1.0
    assert first["utilization"] == 37
