"""Hardware detection and the accelerator report, torch-free."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import psutil

from loralab.models import accelerator_report, detect_hardware, parse_nvidia_smi

# The shape of `nvidia-smi --query-gpu=index,name,memory.total,memory.used,utilization.gpu,
# compute_cap --format=csv,noheader,nounits` (MiB, percent), with the "[N/A]" that some
# consumer GPUs print for fields they do not support.
NVIDIA_SMI_TWO_GPUS = """\
0, NVIDIA A100-SXM4-80GB, 81920, 1234, 37, 8.0
1, NVIDIA GeForce RTX 3060, 12288, [N/A], [N/A], 8.6
"""


def test_detect_hardware_reports_this_machine(tmp_path):
    hw = detect_hardware(tmp_path / "not-yet-created" / "runs")
    assert hw.cpu_cores >= 1
    assert 0 < hw.ram_available_gb <= hw.ram_total_gb
    assert abs(hw.ram_total_gb - psutil.virtual_memory().total / 1024**3) < 0.1
    assert hw.disk_path == str(tmp_path)  # nearest existing parent
    assert hw.disk_free_gb > 0
    if shutil.which("nvidia-smi") is None:
        assert hw.device == "cpu" and hw.gpus == []
        assert "nvidia-smi" in hw.verdict
        assert hw.device_memory_gb == hw.ram_available_gb
    else:
        assert hw.gpus, hw.verdict
        assert hw.verdict.startswith(("can train on GPU", "only CPU"))


def test_parse_nvidia_smi_reads_memory_in_gb_and_unsupported_fields():
    a100, rtx = parse_nvidia_smi(NVIDIA_SMI_TWO_GPUS)
    assert a100.name == "NVIDIA A100-SXM4-80GB"
    assert a100.memory_total_gb == 80.0
    assert round(a100.memory_free_gb, 1) == 78.8
    assert a100.utilization_pct == 37.0
    assert a100.supports_bf16
    assert rtx.index == 1 and rtx.memory_used_gb == 0.0 and rtx.utilization_pct is None
    assert parse_nvidia_smi("") == []


def test_accelerator_report_without_cuda_imports_nothing():
    code = (
        "import sys\n"
        "from loralab.models import accelerator_report\n"
        "report = accelerator_report(cuda=False)\n"
        "assert [a.name for a in report] == "
        "['bitsandbytes', 'liger-kernel', 'unsloth', 'flash-attn']\n"
        "assert all(not a.active and a.reason == 'no CUDA device' for a in report)\n"
        "loaded = {'torch', 'bitsandbytes', 'unsloth', 'liger_kernel', 'flash_attn'}\n"
        "assert not loaded & set(sys.modules), loaded & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


def test_accelerator_report_follows_detected_hardware():
    hw = detect_hardware()
    report = accelerator_report(hw)
    if hw.device == "cpu":
        assert all(a.reason == "no CUDA device" for a in report)
    assert [a.name for a in report] == [a.name for a in accelerator_report()]


def test_accelerator_report_with_cuda_says_how_to_install_what_is_missing():
    for status in accelerator_report(cuda=True):
        if not status.installed:
            assert status.reason.startswith("not installed: pip install")
            assert not status.active


def test_hardware_and_estimate_do_not_import_torch():
    code = (
        "import sys\n"
        "from loralab.config import RunConfig\n"
        "from loralab.models import detect_hardware, estimate_memory, list_catalog\n"
        "cfg = RunConfig.model_validate({'model': {'name_or_path': 'Qwen/Qwen3-0.6B'},\n"
        "                                'data': {'source': 'x.jsonl'}})\n"
        "assert estimate_memory(cfg, detect_hardware()).total_gb > 0\n"
        "assert list_catalog()\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
