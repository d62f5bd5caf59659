"""Dataset sources: local JSON, JSONL, CSV and Parquet files, read as a stream of records.

Every reader streams (Parquet by record batches, JSON arrays element by element), so a large
file is never held in memory. A row that cannot be read is yielded as a ``Record`` with an
``issue`` (when ``on_error="yield"``) so a report can count it and go on; a file that cannot
be read at all raises ``DataError`` naming the file, line or field.

Hub datasets and local dataset folders go through ``loralab.data.hub`` (the ``datasets``
library, imported only there and only when used).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from loralab.data.encodings import binary_kind, head_as_utf8
from loralab.data.readers import READERS
from loralab.data.records import Record
from loralab.errors import DataError, FieldProblem, NotFound

__all__ = [
    "LOCAL_SUFFIXES",
    "SourceKind",
    "is_local_source",
    "iter_records",
    "source_fingerprint",
    "source_kind",
]

SourceKind = Literal["json", "jsonl", "csv", "parquet", "folder", "hub"]

LOCAL_SUFFIXES: dict[str, SourceKind] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_CHUNK = 1 << 20


def is_local_source(source: str) -> bool:
    """Whether ``source`` names a local file or folder rather than a hub dataset id.

    An existing path, a path with a known data suffix, or one that starts like a path
    (``./``, ``/``, ``~``) is local; anything else (``org/name``) is a hub id.
    """
    path = Path(source).expanduser()
    if path.exists():
        return True
    if path.suffix.lower() in LOCAL_SUFFIXES:
        return True
    return source.startswith(("./", "../", "/", "~", "."))


def source_kind(source: str) -> SourceKind:
    """The reader ``source`` needs: a file type, ``folder`` or ``hub``.

    Raises:
        NotFound: a local path that does not exist.
        DataError: a file whose type cannot be told from its suffix or first bytes.
    """
    if source.startswith("dataset:"):
        # A YAML downloaded from the UI names the server's dataset; outside the server it is
        # just a string, and the hub would be asked for a dataset called "dataset:…".
        raise DataError(
            f"`{source}` refers to a dataset registered on a loralab server.",
            fix="Outside the server, set data.source to the dataset's file or a hub id.",
            problems=[FieldProblem(loc="source", message="server-only dataset reference")],
        )
    if not is_local_source(source):
        return "hub"
    path = Path(source).expanduser()
    if not path.exists():
        raise NotFound(
            f"File {source} does not exist.",
            fix="Check the path, or upload the file.",
            problems=[FieldProblem(loc="source", message="no such file or folder")],
        )
    if path.is_dir():
        return "folder"
    kind = LOCAL_SUFFIXES.get(path.suffix.lower())
    return kind or _sniff_kind(path)


def _sniff_kind(path: Path) -> SourceKind:
    # Uploads may lose their suffix; the first bytes tell the common types apart.
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    found = binary_kind(head)
    if found is not None:
        what, fix = found
        raise DataError(
            f"{path.name} is {what}, not a dataset file.",
            fix=fix,
            problems=[FieldProblem(loc="file", message=f"the file is {what}")],
        )
    head = head_as_utf8(head)
    text = head.lstrip()
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        first = text.split(b"\n", 1)[0]
        try:
            json.loads(first)
            return "jsonl"
        except (ValueError, RecursionError):  # a line cut at 4 KB, or nested too deep
            return "json"
    if b"," in head.split(b"\n", 1)[0] or b"\t" in head.split(b"\n", 1)[0]:
        return "csv"
    raise DataError(
        f"Cannot tell the type of {path.name}.",
        fix="Use a .json, .jsonl, .csv or .parquet file.",
        problems=[FieldProblem(loc="file", message="unknown file type")],
    )


def iter_records(
    source: str,
    *,
    split: str = "train",
    subset: str | None = None,
    on_error: Literal["raise", "yield"] = "raise",
) -> Iterator[Record]:
    """Stream the rows of a dataset as ``Record(line, data)``.

    Args:
        source: a local file (.json, .jsonl, .csv, .tsv, .parquet), a local dataset folder, or a
            Hugging Face dataset id.
        split: the split to read (hub ids and folders; a local file is one split).
        subset: the hub dataset's subset (config name).
        on_error: ``"raise"`` stops at the first unreadable row; ``"yield"`` yields it as a
            ``Record`` with ``data=None`` and an ``issue`` and goes on.

    Yields:
        ``Record``: ``line`` is the file line for JSONL and CSV (the CSV header is line 1), the
        1-based row number for JSON arrays, Parquet and hub datasets.

    Raises:
        NotFound: a local path that does not exist.
        DataError: an empty or unreadable file (names the file and line), or with
            ``on_error="raise"`` the first bad row.
        HubUnavailable: a hub dataset that is not cached while the hub cannot be reached.
    """
    kind = source_kind(source)
    if kind in ("hub", "folder"):
        from loralab.data.hub import iter_hub_records

        yield from iter_hub_records(source, split=split, subset=subset)
        return
    path = Path(source).expanduser()
    for record in READERS[kind](path):
        if record.issue is not None and on_error == "raise":
            issue = record.issue
            raise DataError(
                f"{path.name}, line {issue.line}: {issue.message}",
                problems=[issue.to_problem()],
            )
        yield record


def source_fingerprint(
    source: str, *, split: str = "train", subset: str | None = None, revision: str | None = None
) -> str:
    """A content fingerprint: ``sha256:`` of the file's bytes (every file's, for a folder), or
    of the hub id, split, subset and revision for a hub dataset."""
    digest = hashlib.sha256()
    kind = source_kind(source)
    if kind == "hub":
        ident = {"hub": source, "split": split, "subset": subset, "revision": revision}
        digest.update(json.dumps(ident, sort_keys=True).encode())
        return "sha256:" + digest.hexdigest()
    path = Path(source).expanduser()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if kind == "folder" else [path]
    for file in files:
        if kind == "folder":
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()
