"""Uploads and the disk: free space checked first (507 with the numbers), partial files never
kept, writes off the event loop, and a full disk met anyway answered as 507, not 500."""

from __future__ import annotations

import asyncio
import errno
import re

import pytest
from fastapi.testclient import TestClient

from loralab import diskspace
from loralab.api import uploads

from .conftest import upload_file

ROWS = b'{"prompt": "What is 2 + 2?", "completion": "4"}\n'


def _stored(settings) -> list[str]:
    return sorted(p.name for p in (settings.data_dir / "datasets").iterdir())


def test_upload_bigger_than_the_free_disk_is_507_with_the_numbers(client, settings, monkeypatch):
    # A reserve larger than the disk's free space: the real free space is measured and refused.
    free = diskspace.free_bytes(settings.data_dir)
    monkeypatch.setattr(diskspace, "RESERVE_BYTES", free + 2**40)
    r = upload_file(client, "rows.jsonl", ROWS * 100)
    assert r.status_code == 507
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "insufficient_storage" and body["fix"]
    # "it needs 4.7 KB (4812 bytes) plus 1.0 TB kept free, and only 78.0 GB (...) are free."
    needed, measured = (int(n) for n in re.findall(r"\((\d+) bytes\)", body["detail"]))
    assert needed >= len(ROWS) * 100  # the body's length, form overhead included
    assert 0 < measured < needed + free + 2**40
    assert _stored(settings) == []
    assert client.get("/api/datasets").json() == []
    monkeypatch.setattr(diskspace, "RESERVE_BYTES", 0)
    assert upload_file(client, "rows.jsonl", ROWS * 100).status_code == 201


def test_disk_filling_up_while_streaming_is_507_and_the_partial_file_is_removed(
    client, settings, monkeypatch
):
    measured = []

    def free_bytes(path):  # plenty at the start, then another writer fills the disk
        measured.append(path)
        return 2**40 if len(measured) == 1 else 1024

    monkeypatch.setattr(diskspace, "free_bytes", free_bytes)
    monkeypatch.setattr(uploads, "_SPACE_CHECK_BYTES", 64 * 1024)
    r = upload_file(client, "big.jsonl", ROWS * 20_000)  # about 1 MB
    assert r.status_code == 507, r.text
    assert r.json()["code"] == "insufficient_storage"
    assert "1.0 KB (1024 bytes) are free" in r.json()["detail"]
    assert len(measured) >= 2
    assert _stored(settings) == []  # neither the .part file nor a dataset
    assert client.get("/api/datasets").json() == []
    assert client.get("/api/health").status_code == 200


def test_upload_writes_run_outside_the_event_loop(client, monkeypatch):
    writes = []
    original = uploads._Receiver._write

    def spy(self, chunk, **kwargs):
        try:
            asyncio.get_running_loop()
            writes.append("event loop")
        except RuntimeError:  # no loop runs in this thread: a worker thread
            writes.append("worker thread")
        return original(self, chunk, **kwargs)

    monkeypatch.setattr(uploads._Receiver, "_write", spy)
    r = upload_file(client, "rows.jsonl", ROWS * 50_000)  # several batches
    assert r.status_code == 201, r.text
    assert writes and set(writes) == {"worker thread"}


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT])
def test_full_disk_met_while_answering_is_507_not_500(app, client, number):
    def full() -> None:
        raise OSError(number, "No space left on device")

    app.add_api_route("/api/_test_full_disk", full, methods=["POST"])
    r = client.post("/api/_test_full_disk")
    assert r.status_code == 507
    assert r.json()["code"] == "insufficient_storage"
    assert client.get("/api/health").status_code == 200


def test_other_os_errors_stay_500_internal_error(app, client):
    def broken() -> None:
        raise OSError(errno.EIO, "I/O error")

    app.add_api_route("/api/_test_io_error", broken, methods=["POST"])
    r = TestClient(app, raise_server_exceptions=False).post("/api/_test_io_error")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
