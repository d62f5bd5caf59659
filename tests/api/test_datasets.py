"""/api/datasets: upload, hub registration, validation, preview, mapping updates, delete."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from data.hostile import SMALL_LIMITS, hostile_files
from loralab.api.uploads import MAX_FILENAME_CHARS
from loralab.data import limits
from loralab.services import dataset_validation
from loralab.store import JobRow
from loralab.store import datasets as store

from .conftest import upload_file

SAMPLES = [
    ("alpaca_sample.json", "alpaca", 200),
    ("dolly_sample.csv", "dolly", None),
    ("finetome_sample.jsonl", "conversations", None),
    ("finetome_sample.parquet", "conversations", None),
    ("openai_messages_sample.jsonl", "messages", None),
    ("preference_sample.jsonl", "preference", None),
]


def _stored_files(settings) -> list[Path]:
    return sorted((settings.data_dir / "datasets").iterdir())


def _ready(formats_dir, client, name="alpaca_sample.json"):
    r = upload_file(client, name, formats_dir / name)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(("filename", "fmt", "rows"), SAMPLES)
def test_upload_sample_is_validated_and_stored_under_generated_name(
    client, settings, formats_dir, filename, fmt, rows
):
    r = upload_file(client, filename, formats_dir / filename)
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["status"] == "ready"
    assert ds["kind"] == "upload"
    assert ds["format"] == fmt
    assert ds["original_filename"] == filename and ds["name"] == filename
    assert ds["size_bytes"] == (formats_dir / filename).stat().st_size
    assert ds["row_count"] == ds["report"]["total_rows"] > 0
    if rows is not None:
        assert ds["row_count"] == rows
    assert ds["report"]["valid_rows"] > 0
    assert ds["report"]["source"] == f"dataset:{ds['id']}"
    stored = _stored_files(settings)
    assert [p.name for p in stored] == [ds["id"] + Path(filename).suffix]
    assert stored[0].read_bytes() == (formats_dir / filename).read_bytes()
    listed = client.get("/api/datasets").json()
    assert [d["id"] for d in listed] == [ds["id"]]
    assert client.get(f"/api/datasets/{ds['id']}").json()["report"]["total_rows"] > 0


# What a user gets for each malformed sample: a 4xx at upload when nothing in the file can be
# used as a table, else a stored dataset whose report or problems say what is wrong where.
MALFORMED = {
    "binary.parquet": (422, "unsupported_file"),
    "empty.jsonl": (422, "empty_file"),
    "latin1.jsonl": (422, "unsupported_file"),
    "not_a_table.json": (422, "invalid_data"),
    "broken_lines.jsonl": ("ready", [2, 3, 4]),
    "ragged.csv": ("ready", [3, 4]),
    "empty_values.jsonl": ("invalid", [1, 2]),
    "wrong_types.jsonl": ("invalid", [1, 2]),
    "missing_fields.jsonl": ("invalid", "format"),
}


def test_every_malformed_sample_is_covered(formats_dir):
    assert {p.name for p in (formats_dir / "malformed").iterdir()} == set(MALFORMED)


@pytest.mark.parametrize("filename", sorted(MALFORMED))
def test_malformed_upload_gets_a_clear_answer_and_server_keeps_serving(
    client, settings, formats_dir, filename
):
    good = _ready(formats_dir, client)
    expected, detail = MALFORMED[filename]
    r = upload_file(client, filename, formats_dir / "malformed" / filename)
    body = r.json()
    if isinstance(expected, int):
        assert r.status_code == expected
        assert r.headers["content-type"] == "application/problem+json"
        assert body["code"] == detail
        assert filename in body["detail"] or "file" in body["detail"].lower()
        assert len(_stored_files(settings)) == 1  # nothing kept, not even a partial file
    else:
        assert r.status_code == 201, r.text
        assert body["status"] == expected
        if detail == "format":
            assert body["error"] and body["problems"][0]["loc"] == "format"
        else:
            assert [e["line"] for e in body["report"]["errors"]] == detail
            listed = {d["id"]: d for d in client.get("/api/datasets").json()}[body["id"]]
            assert listed["invalid_rows"] == len(detail)  # the list says rows will be skipped
        if expected == "invalid":
            assert body["error"]
    # The server still answers, and the good dataset and its file are intact.
    assert client.get("/api/health").status_code == 200
    again = client.get(f"/api/datasets/{good['id']}").json()
    assert again["status"] == "ready" and again["row_count"] == good["row_count"]
    stored = settings.data_dir / "datasets" / f"{good['id']}.json"
    assert stored.read_bytes() == (formats_dir / "alpaca_sample.json").read_bytes()


@pytest.mark.parametrize("filename", ["data.txt", "data.jsonl.exe", "noext", ".jsonl", "a.PY"])
def test_bad_extension_is_415_and_nothing_is_kept(client, settings, filename):
    r = upload_file(client, filename, b'{"prompt": "a", "completion": "b"}\n')
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_file"
    assert _stored_files(settings) == []


def test_upper_case_extension_is_accepted(client, formats_dir):
    r = upload_file(client, "DATA.JSONL", formats_dir / "prompt_completion_sample.jsonl")
    assert r.status_code == 201
    assert r.json()["format"] == "prompt_completion"


PATH_LIKE = ["../../etc/passwd.jsonl", "/etc/passwd.jsonl", "..\\..\\evil.jsonl", "a\x00b.jsonl"]


@pytest.mark.parametrize("filename", PATH_LIKE)
def test_path_like_names_are_display_metadata_only(client, settings, tmp_path, filename):
    content = b'{"prompt": "a", "completion": "b"}\n'
    r = upload_file(client, filename, content)
    assert r.status_code == 201, r.text
    ds = r.json()
    assert "\x00" not in ds["original_filename"]
    if "\x00" not in filename:
        assert ds["original_filename"] == filename
    assert "/" not in ds["name"] and "\\" not in ds["name"]
    assert [p.name for p in _stored_files(settings)] == [f"{ds['id']}.jsonl"]
    assert not (tmp_path / "etc").exists() and not (tmp_path / "evil.jsonl").exists()


def test_name_field_sets_the_display_name(client, formats_dir):
    r = upload_file(client, "x.json", formats_dir / "alpaca_sample.json", name="My Alpaca")
    assert r.json()["name"] == "My Alpaca"


def test_upload_over_the_limit_is_413_with_no_partial_file(make_client, settings, tmp_path):
    client = make_client(max_upload_mb=1)
    big = b'{"prompt": "aaaaaaaaaa", "completion": "bbbbbbbbbb"}\n' * 40_000  # ~2 MB
    r = upload_file(client, "big.jsonl", big)
    assert r.status_code == 413
    assert r.json()["code"] == "too_large"
    assert _stored_files(settings) == []
    assert upload_file(client, "small.jsonl", big[:10_000]).status_code == 201


def test_chunked_upload_over_the_limit_is_413(make_client, settings):
    client = make_client(max_upload_mb=1)
    boundary = "loralabtestboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    line = b'{"prompt": "aaaaaaaaaa", "completion": "bbbbbbbbbb"}\n'

    def body():  # no Content-Length: the limit must hold while the bytes arrive
        yield head
        for _ in range(6_000):
            yield line * 10
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/api/datasets/upload",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413
    assert _stored_files(settings) == []


def test_upload_that_is_not_multipart_is_415(client):
    r = client.post("/api/datasets/upload", json={"file": "x"})
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_media_type"


def test_upload_without_file_part_is_422(client):
    r = client.post("/api/datasets/upload", files={"other": ("x.jsonl", b"{}")})
    assert r.status_code == 422
    assert r.json()["code"] == "missing_file"
    r = client.post("/api/datasets/upload", data={"name": "x"}, files={})
    assert r.status_code in (415, 422)


def test_truncated_multipart_is_422(client, settings):
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
        '{"prompt": "a"'
    ).encode()
    r = client.post(
        "/api/datasets/upload",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_upload"
    assert _stored_files(settings) == []


def test_get_unknown_dataset_is_404(client):
    r = client.get("/api/datasets/" + "0" * 32)
    assert r.status_code == 404
    assert r.json()["code"] == "dataset_not_found"


def test_preview_renders_samples_with_chatml_by_default(client, formats_dir):
    ds = _ready(formats_dir, client)
    r = client.get(f"/api/datasets/{ds['id']}/preview", params={"n": 2})
    assert r.status_code == 200
    preview = r.json()
    assert preview["format"] == "alpaca"
    assert len(preview["samples"]) == 2
    sample = preview["samples"][0]
    assert "<|im_start|>assistant" in sample["text"]
    assert "".join(s["text"] for s in sample["segments"]) == sample["text"]
    assert any(s["trained"] for s in sample["segments"])
    assert sample["num_tokens"] is None


def test_preview_with_a_registered_model_uses_its_template_and_tokenizer(
    client, formats_dir, tiny_model
):
    ds = _ready(formats_dir, client)
    model = client.post("/api/models", json={"path": str(tiny_model)}).json()
    r = client.get(
        f"/api/datasets/{ds['id']}/preview",
        params={"n": 1, "model": f"model:{model['id']}", "max_seq_length": 16},
    )
    assert r.status_code == 200, r.text
    sample = r.json()["samples"][0]
    assert sample["num_tokens"] > 16 and sample["truncated"] is True
    assert "chat_template" in sample["template"] or "tokenizer_config" in sample["template"]


def test_preview_with_unknown_or_path_model_is_4xx(client, formats_dir):
    ds = _ready(formats_dir, client)
    r = client.get(f"/api/datasets/{ds['id']}/preview", params={"model": "model:" + "0" * 32})
    assert r.status_code == 404
    r = client.get(f"/api/datasets/{ds['id']}/preview", params={"model": "/etc"})
    assert r.status_code == 422
    assert r.json()["code"] == "model_error"


def test_invalid_mapping_is_fixed_by_patch(client, formats_dir):
    r = upload_file(client, "qa.jsonl", formats_dir / "malformed" / "missing_fields.jsonl")
    ds = r.json()
    assert ds["status"] == "invalid"
    r = client.get(f"/api/datasets/{ds['id']}/preview")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "format"
    change = {"format": "question_answer", "field_mapping": {"question": "question_text"}}
    r = client.patch(f"/api/datasets/{ds['id']}", json=change)
    assert r.status_code == 422  # `answer` has no column: refused, nothing changes
    assert "field_mapping.answer" in [e["loc"] for e in r.json()["errors"]]
    assert client.get(f"/api/datasets/{ds['id']}").json()["status"] == "invalid"
    change["field_mapping"]["answer"] = "reply"
    r = client.patch(f"/api/datasets/{ds['id']}", json=change)
    assert r.status_code == 200, r.text
    fixed = r.json()
    assert fixed["status"] == "ready" and fixed["error"] is None and fixed["problems"] == []
    assert fixed["format"] == "question_answer"
    assert fixed["field_mapping"] == {"question": "question_text", "answer": "reply"}
    assert fixed["report"]["valid_rows"] == 5
    assert fixed["report"]["detection"]["detected"] is False
    assert client.get(f"/api/datasets/{ds['id']}/preview").status_code == 200


def test_mapping_to_a_missing_column_is_422(client, formats_dir):
    ds = _ready(formats_dir, client)
    r = client.patch(f"/api/datasets/{ds['id']}", json={"field_mapping": {"output": "nope"}})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_data"
    assert client.get(f"/api/datasets/{ds['id']}").json()["field_mapping"] == ds["field_mapping"]


def test_system_prompt_and_name_are_kept_and_used(client, formats_dir):
    ds = _ready(formats_dir, client)
    r = client.patch(
        f"/api/datasets/{ds['id']}", json={"system_prompt": "Be brief.", "name": "alpaca v2"}
    )
    assert r.status_code == 200
    assert r.json()["system_prompt"] == "Be brief." and r.json()["name"] == "alpaca v2"
    assert r.json()["report"]["total_rows"] == 200
    text = client.get(f"/api/datasets/{ds['id']}/preview?n=1").json()["samples"][0]["text"]
    assert text.startswith("<|im_start|>system\nBe brief.")
    again = client.get(f"/api/datasets/{ds['id']}").json()
    assert again["system_prompt"] == "Be brief." and again["format"] == "alpaca"


def test_patch_with_unknown_field_or_format_is_422(client, formats_dir):
    ds = _ready(formats_dir, client)
    assert client.patch(f"/api/datasets/{ds['id']}", json={"path": "/etc"}).status_code == 422
    assert client.patch(f"/api/datasets/{ds['id']}", json={"format": "nope"}).status_code == 422


def test_delete_removes_row_and_file(client, settings, formats_dir):
    ds = _ready(formats_dir, client)
    assert client.delete(f"/api/datasets/{ds['id']}").status_code == 204
    assert _stored_files(settings) == []
    assert client.get(f"/api/datasets/{ds['id']}").status_code == 404
    assert client.delete(f"/api/datasets/{ds['id']}").status_code == 404


@pytest.mark.parametrize("status", ["queued", "running"])
def test_delete_while_a_job_uses_the_dataset_is_409(bare_client, db, settings, formats_dir, status):
    ds = _ready(formats_dir, bare_client)
    with db.write() as session:
        session.add(JobRow(id="f" * 32, status=status, config={}, dataset_id=ds["id"]))
    r = bare_client.delete(f"/api/datasets/{ds['id']}")
    assert r.status_code == 409
    assert r.json()["code"] == "dataset_in_use"
    assert "f" * 32 in r.json()["fix"]
    assert len(_stored_files(settings)) == 1
    with db.write() as session:
        session.get(JobRow, "f" * 32).status = "completed"
    assert bare_client.delete(f"/api/datasets/{ds['id']}").status_code == 204


def test_hub_dataset_offline_is_503_and_nothing_is_stored(client, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = client.post("/api/datasets/hub", json={"hub_id": "mlabonne/FineTome-100k"})
    assert r.status_code == 503
    assert r.json()["code"] == "hub_unavailable"
    assert client.get("/api/datasets").json() == []


def test_hub_dataset_unreachable_hub_is_503(client, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    r = client.post("/api/datasets/hub", json={"hub_id": "someone/some-data", "split": "test"})
    assert r.status_code == 503
    assert r.json()["code"] == "hub_unavailable"


@pytest.mark.parametrize(
    "body",
    [
        {"hub_id": "../../etc/passwd"},
        {"hub_id": "a/b/c"},
        {"hub_id": "org/name", "split": "../x"},
        {"hub_id": "org/name", "subset": "a b"},
        {"hub_id": "org/name", "extra": 1},
    ],
)
def test_hub_registration_with_bad_fields_is_422(client, body):
    r = client.post("/api/datasets/hub", json=body)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"


def test_cached_hub_dataset_is_registered_and_queued_for_validation(
    bare_client, db, monkeypatch, tmp_path
):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "hub" / "datasets--org--cached-set").mkdir(parents=True)
    r = bare_client.post(
        "/api/datasets/hub", json={"hub_id": "org/cached-set", "split": "test", "subset": "main"}
    )
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["kind"] == "hub" and ds["status"] == "validating"
    assert (ds["hub_id"], ds["split"], ds["subset"]) == ("org/cached-set", "test", "main")
    with db.read() as session:
        job = session.query(JobRow).filter_by(dataset_id=ds["id"]).one()
        assert (job.kind, job.status) == ("validate", "queued")
        assert job.config["data"]["source"] == "org/cached-set"
    r = bare_client.get(f"/api/datasets/{ds['id']}/preview")
    assert r.status_code == 422 and r.json()["code"] == "preview_unavailable"
    r = bare_client.patch(f"/api/datasets/{ds['id']}", json={"format": "alpaca"})
    assert r.status_code == 409 and r.json()["code"] == "dataset_validating"


def test_record_validation_stores_a_worker_report(bare_client, db, formats_dir):
    ds = _ready(formats_dir, bare_client)
    with db.write() as session:
        store.update_dataset(session, ds["id"], system_prompt="kept")
    report = bare_client.get(f"/api/datasets/{ds['id']}").json()["report"]
    report["total_rows"] = 7
    with db.write() as session:
        row = store.record_validation(session, ds["id"], report, status="invalid", error="boom")
    assert row is not None and row.row_count == 7
    got = bare_client.get(f"/api/datasets/{ds['id']}").json()
    assert (got["status"], got["error"], got["row_count"]) == ("invalid", "boom", 7)
    assert got["system_prompt"] == "kept"
    with db.write() as session:
        gone = store.record_validation(session, "0" * 32, None, status="ready", error=None)
    assert gone is None


@pytest.mark.slow
def test_big_file_is_validated_by_a_job(client, formats_dir, monkeypatch):
    monkeypatch.setattr(dataset_validation, "INLINE_VALIDATION_BYTES", 1000)
    r = upload_file(client, "big.jsonl", formats_dir / "finetome_sample.jsonl")
    assert r.status_code == 201
    ds = r.json()
    assert ds["status"] == "validating" and ds["report"] is None
    r = client.delete(f"/api/datasets/{ds['id']}")
    assert r.status_code == 409  # the validate job uses it
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ds = client.get(f"/api/datasets/{ds['id']}").json()
        if ds["status"] != "validating":
            break
        time.sleep(0.5)
    assert ds["status"] == "ready", json.dumps(ds)[:2000]
    assert ds["format"] == "conversations"
    assert ds["report"]["total_rows"] == ds["row_count"] > 0
    assert ds["report"]["source"] == f"dataset:{ds['id']}"


# Hostile files (issue 11) ---------------------------------------------------------------------


def test_file_name_over_the_limit_is_refused_as_too_long(client, settings):
    name = "x" * 300 + ".jsonl"
    r = upload_file(client, name, b'{"prompt": "a", "completion": "b"}\n')
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "filename_too_long"
    assert str(MAX_FILENAME_CHARS) in body["detail"] and "306" in body["detail"]
    assert _stored_files(settings) == []
    # At the limit it is accepted, and kept whole.
    name = "x" * (MAX_FILENAME_CHARS - len(".jsonl")) + ".jsonl"
    r = upload_file(client, name, b'{"prompt": "a", "completion": "b"}\n')
    assert r.status_code == 201, r.text
    assert r.json()["original_filename"] == name


def test_deeply_nested_line_is_an_invalid_row_not_a_server_error(client):
    good = b'{"prompt": "a", "completion": "b"}\n'
    r = upload_file(client, "deep.jsonl", good + b"[" * 50_000 + b"]" * 50_000 + b"\n" + good)
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "too_deep")]
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_uploads_with_a_byte_order_mark_are_stored_as_utf8(
    client, settings, formats_dir, encoding
):
    text = (formats_dir / "dolly_sample.csv").read_text(encoding="utf-8")
    r = upload_file(client, "dolly.csv", text.encode(encoding))
    assert r.status_code == 201, r.text
    ds = r.json()
    assert (ds["status"], ds["format"], ds["row_count"]) == ("ready", "dolly", 150)
    [stored] = _stored_files(settings)
    assert stored.read_bytes() == text.encode("utf-8")
    assert ds["size_bytes"] == stored.stat().st_size


def test_archive_renamed_to_jsonl_is_refused_by_its_first_bytes(client, settings):
    zipped = b"PK\x03\x04" + b"\x00" * 200
    r = upload_file(client, "data.jsonl", zipped)
    assert r.status_code == 422
    assert r.json()["code"] == "unsupported_file" and "ZIP" in r.json()["detail"]
    assert _stored_files(settings) == []


def _check_hostile_upload(client, settings, suffix: str, content: bytes) -> None:
    r = upload_file(client, f"hostile{suffix}", content)
    assert r.status_code < 500, r.text
    if r.status_code == 201:
        ds = r.json()
        for response in (
            client.get(f"/api/datasets/{ds['id']}"),
            client.get(f"/api/datasets/{ds['id']}/preview", params={"n": 3}),
            client.patch(f"/api/datasets/{ds['id']}", json={"format": "messages"}),
            client.patch(f"/api/datasets/{ds['id']}", json={"field_mapping": {"prompt": "a"}}),
            client.get("/api/datasets"),
        ):
            assert response.status_code < 500, response.text
        assert client.delete(f"/api/datasets/{ds['id']}").status_code == 204
    else:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"]
    assert client.get("/api/health").status_code == 200
    assert _stored_files(settings) == []  # no partial file, and nothing left of the dataset


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=hostile_files())
def test_generated_hostile_upload_never_gets_a_server_error(client, settings, monkeypatch, file):
    for name, value in SMALL_LIMITS.items():
        monkeypatch.setattr(limits, name, value)
    _check_hostile_upload(client, settings, *file)


@hypothesis_settings(
    max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
@given(files=st.lists(hostile_files(), min_size=8, max_size=12))
def test_upload_fuzz_run_leaves_the_server_serving(client, settings, formats_dir, files):
    # A good dataset first: whatever comes after, it stays as it was.
    good = _ready(formats_dir, client)
    kept = []
    for suffix, content in files:
        r = upload_file(client, f"fuzz{suffix}", content)
        assert r.status_code < 500, r.text
        if r.status_code == 201:
            kept.append(r.json()["id"])
    listed = client.get("/api/datasets")
    assert listed.status_code == 200
    assert {d["id"] for d in listed.json()} == {good["id"], *kept}
    for dataset_id in kept:
        assert client.get(f"/api/datasets/{dataset_id}").status_code == 200
        assert client.get(f"/api/datasets/{dataset_id}/preview").status_code < 500
        assert client.delete(f"/api/datasets/{dataset_id}").status_code == 204
    again = client.get(f"/api/datasets/{good['id']}").json()
    assert again["status"] == "ready" and again["row_count"] == good["row_count"]
    assert [p.name for p in _stored_files(settings)] == [f"{good['id']}.json"]
    assert client.delete(f"/api/datasets/{good['id']}").status_code == 204
    assert client.get("/api/health").status_code == 200
