"""Atomic checkpoints: only folders with a COMPLETE marker count, for resume and for rotation."""

from __future__ import annotations

from pathlib import Path

from loralab.training.checkpoints import (
    COMPLETE_MARKER,
    last_complete_checkpoint,
    list_checkpoints,
    mark_complete,
    read_marker,
    remove_incomplete,
    rotate_checkpoints,
    unmark,
)


def _ckpt(root: Path, step: int, *, complete: bool) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "adapter_model.safetensors").write_bytes(b"x" * 16)
    if complete:
        mark_complete(path, {"step": step, "elapsed_seconds": step * 1.5})
    return path


def test_half_written_checkpoint_is_not_the_last_complete_one(tmp_path):
    _ckpt(tmp_path, 2, complete=True)
    _ckpt(tmp_path, 4, complete=False)  # a crash while the Trainer was writing it

    last = last_complete_checkpoint(tmp_path)

    assert last is not None and last.step == 2
    assert [c.step for c in list_checkpoints(tmp_path)] == [2, 4]


def test_no_checkpoint_folder_means_none(tmp_path):
    assert last_complete_checkpoint(tmp_path / "missing") is None
    (tmp_path / "checkpoint-x").mkdir()  # not a step number
    assert list_checkpoints(tmp_path) == []


def test_marker_is_written_atomically_and_read_back(tmp_path):
    path = _ckpt(tmp_path, 3, complete=True)

    info = read_marker(path)

    assert info["step"] == 3 and info["elapsed_seconds"] == 4.5 and "completed_at" in info
    assert not any(p.name.endswith(".tmp") for p in path.iterdir())
    unmark(path)
    assert not (path / COMPLETE_MARKER).exists() and read_marker(path) == {}


def test_rotation_keeps_newest_complete_and_drops_stale_partials(tmp_path):
    for step in (1, 2, 3):
        _ckpt(tmp_path, step, complete=True)
    _ckpt(tmp_path, 0, complete=False)
    _ckpt(tmp_path, 5, complete=False)  # newer than the last complete: may be being written

    removed = rotate_checkpoints(tmp_path, keep=2)

    assert sorted(p.name for p in removed) == ["checkpoint-0", "checkpoint-1"]
    assert [(c.step, c.complete) for c in list_checkpoints(tmp_path)] == [
        (2, True),
        (3, True),
        (5, False),
    ]
    assert rotate_checkpoints(tmp_path, keep=None) == []


def test_remove_incomplete_before_resume(tmp_path):
    _ckpt(tmp_path, 2, complete=True)
    _ckpt(tmp_path, 4, complete=False)

    removed = remove_incomplete(tmp_path)

    assert [p.name for p in removed] == ["checkpoint-4"]
    assert [c.step for c in list_checkpoints(tmp_path)] == [2]
