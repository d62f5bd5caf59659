"""The free-disk check shared by uploads, exports and checkpoints (``loralab.diskspace``)."""

from __future__ import annotations

import threading

import pytest

from loralab import diskspace
from loralab.errors import InsufficientStorage
from loralab.export import ExportPlan, run_export
from loralab.training.checkpoints import check_checkpoint_space, mark_complete


def test_enough_space_returns_what_is_free(tmp_path):
    free = diskspace.check_free_space(tmp_path / "not" / "yet", 1, what="write", reserve=0)
    assert free > 1


def test_too_little_space_is_507_with_needed_and_free_in_bytes(tmp_path):
    free = diskspace.free_bytes(tmp_path)
    with pytest.raises(InsufficientStorage) as info:
        diskspace.check_free_space(tmp_path, free + 2**40, what="write the thing", reserve=0)
    exc = info.value
    assert (exc.status, exc.code) == (507, "insufficient_storage")
    assert "write the thing" in exc.message and f"({free + 2**40} bytes)" in exc.message
    assert exc.fix


def test_the_reserve_counts_against_the_free_space(tmp_path, monkeypatch):
    monkeypatch.setattr(diskspace, "RESERVE_BYTES", diskspace.free_bytes(tmp_path) + 2**40)
    with pytest.raises(InsufficientStorage):
        diskspace.check_free_space(tmp_path, 0, what="write")


def test_checkpoint_needs_room_for_one_more_of_the_last_size(tmp_path, monkeypatch):
    root = tmp_path / "run"
    check_checkpoint_space(root, 1)  # nothing saved yet: only the reserve
    ckpt = root / "checkpoint-1"
    ckpt.mkdir(parents=True)
    (ckpt / "adapter_model.safetensors").write_bytes(b"\0" * 5000)
    mark_complete(ckpt, {"step": 1})
    size = sum(p.stat().st_size for p in ckpt.rglob("*") if p.is_file())
    monkeypatch.setattr(diskspace, "RESERVE_BYTES", 0)
    monkeypatch.setattr(diskspace, "free_bytes", lambda path: size - 1)
    with pytest.raises(InsufficientStorage) as info:
        check_checkpoint_space(root, 2)
    assert "checkpoint-2" in info.value.message and f"({size} bytes)" in info.value.message
    monkeypatch.setattr(diskspace, "free_bytes", lambda path: size)
    check_checkpoint_space(root, 2)


def test_export_checks_the_free_disk_before_writing_anything(tmp_path):
    adapter = tmp_path / "adapter"  # never read: the check comes first
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    out = tmp_path / "export"
    plan = ExportPlan(
        base="unused",
        adapter_path=str(adapter),
        name="big",
        formats=["adapter"],
        needed_bytes=diskspace.free_bytes(tmp_path) + 2**40,
    )
    with pytest.raises(InsufficientStorage) as info:
        run_export(plan, out, reporter=None, stop=threading.Event())
    assert "export big" in info.value.message
    assert list(out.iterdir()) == []
