"""The inference worker's device rule, from fake driver folders and job facts."""

from __future__ import annotations

from loralab.jobs.inference_process import choose_inference_device, list_gpus


def _driver(tmp_path, n: int):
    folder = tmp_path / "gpus"
    folder.mkdir()
    for i in range(n):
        (folder / f"0000:0{i}:00.0").mkdir()
    return folder


def test_list_gpus_reads_the_driver_folder_narrowed_by_cuda_visible_devices(tmp_path):
    folder = _driver(tmp_path, 4)
    assert list_gpus(folder) == ["0", "1", "2", "3"]
    assert list_gpus(folder, cuda_visible="2,3") == ["0", "1"]
    assert list_gpus(folder, cuda_visible="") == []
    assert list_gpus(folder, cuda_visible="-1") == []
    assert list_gpus(tmp_path / "no-driver") == []


def test_no_gpu_means_the_cpu_and_says_so():
    choice = choose_inference_device([], [])
    assert (choice.device, choice.gpu, choice.visible) == ("cpu", None, "")
    assert "CPU" in choice.reason


def test_a_free_gpu_is_used_the_highest_one_first():
    choice = choose_inference_device(["0", "1", "2"], ["0"])
    assert (choice.device, choice.gpu, choice.visible) == ("cuda:0", "2", "2")
    assert "GPU 2" in choice.reason


def test_never_a_gpu_a_training_job_runs_on():
    assert choose_inference_device(["0", "1"], ["0,1"]).device == "cpu"
    assert choose_inference_device(["0", "1"], ["1"]).gpu == "0"
    # A device job that is not pinned may use every GPU.
    assert choose_inference_device(["0", "1"], [None]).device == "cpu"


def test_free_gpus_are_left_to_queued_device_jobs():
    assert choose_inference_device(["0", "1"], [], queued=2).device == "cpu"
    assert choose_inference_device(["0", "1", "2"], ["0"], queued=1).gpu == "2"
    assert choose_inference_device(["0", "1", "2"], ["0"], queued=2).device == "cpu"


def test_this_machine_has_no_gpu_so_inference_uses_the_cpu():
    choice = choose_inference_device(list_gpus(), [])
    assert choice.device == "cpu"


def test_the_server_side_of_inference_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, loralab.inference, loralab.jobs.inference_process, "
        "loralab.services.inference, loralab.api.routes.openai_compat\n"
        "ml = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'peft')]\n"
        "assert not ml, ml\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
