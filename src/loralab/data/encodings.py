"""What the bytes of a text dataset file are: UTF-8, UTF-16/32 with a byte-order mark, or not text.

``open_utf8`` gives the readers one thing to read whatever the file's Unicode encoding: UTF-8
bytes without a byte-order mark. ``binary_kind`` names archives and Parquet files that were
renamed to a text suffix, and ``encoding_hint`` says what a line that is not UTF-8 probably is.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import BinaryIO

from loralab.data.records import file_error
from loralab.errors import DataError, FieldProblem

__all__ = [
    "SAVE_AS_UTF8",
    "binary_kind",
    "encoding_hint",
    "head_as_utf8",
    "open_utf8",
    "refuse_binary",
]

SAVE_AS_UTF8 = "Save it as UTF-8."

_CHUNK = 1 << 20
# Longest first: a UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive", "Unpack it and use the file inside."),
    (b"PK\x05\x06", "an empty ZIP archive", "Unpack it and use the file inside."),
    (b"\x1f\x8b", "a gzip file", "Unpack it (gunzip) and use the file inside."),
    (b"BZh", "a bzip2 file", "Unpack it (bunzip2) and use the file inside."),
    (b"\xfd7zXZ\x00", "an xz file", "Unpack it (unxz) and use the file inside."),
    (b"\x28\xb5\x2f\xfd", "a zstd file", "Unpack it (unzstd) and use the file inside."),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "Unpack it and use the file inside."),
    (b"PAR1", "a Parquet file", "Give it the .parquet suffix."),
    (b"\x89HDF", "an HDF5 file", "Export it as JSONL, CSV or Parquet."),
    (b"\x93NUMPY", "a NumPy array", "Export it as JSONL, CSV or Parquet."),
    (b"SQLite format 3\x00", "an SQLite database", "Export a table as JSONL, CSV or Parquet."),
)


def binary_kind(head: bytes) -> tuple[str, str] | None:
    """``(what, fix)`` when the first bytes are those of an archive or binary table format."""
    for magic, what, fix in _MAGIC:
        if head.startswith(magic):
            return what, fix
    return None


def refuse_binary(path: Path, label: str) -> None:
    """Raise ``DataError`` when ``path`` starts like an archive or a binary table, naming it
    ("the file is a ZIP archive, not JSONL text") with the fix."""
    with path.open("rb") as f:
        found = binary_kind(f.read(16))
    if found is not None:
        what, fix = found
        raise file_error(path, f"the file is {what}, not {label}", fix=fix)


def encoding_hint(raw: bytes) -> str:
    """What bytes that are not UTF-8 probably are, for the message about their line."""
    if b"\x00" in raw:
        return "it holds NUL bytes: binary data, or UTF-16/UTF-32 text without a byte-order mark"
    return "the file looks like Latin-1 or Windows-1252"


def open_utf8(path: Path) -> BinaryIO:
    """Open ``path`` for reading as UTF-8 bytes, its byte-order mark left out.

    A file with a UTF-16 or UTF-32 byte-order mark is decoded as it streams; others are
    returned as they are (their bytes are checked line by line by the readers).

    Raises:
        DataError: (while reading) UTF-16/UTF-32 bytes that do not decode, with the line.
    """
    f = path.open("rb")
    head = f.read(4)
    for bom, encoding, name in _BOMS:
        if head.startswith(bom):
            f.seek(len(bom))
            if encoding == "utf-8":
                return f
            return io.BufferedReader(_Transcoder(f, path, encoding, name), buffer_size=_CHUNK)
    f.seek(0)
    return f


def head_as_utf8(head: bytes) -> bytes:
    """The first bytes of a file as UTF-8 without a byte-order mark, to tell its type by.

    A character cut at the end of ``head`` is left out.
    """
    for bom, encoding, _ in _BOMS:
        if head.startswith(bom):
            text = head[len(bom) :].decode(encoding, errors="ignore")
            return text.encode("utf-8", errors="ignore")
    return head


class _Transcoder(io.RawIOBase):
    """UTF-16/UTF-32 bytes in, UTF-8 bytes out, one chunk at a time."""

    def __init__(self, raw: BinaryIO, path: Path, encoding: str, name: str) -> None:
        self.raw, self.path, self.name = raw, path, name
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")
        self.pending = b""
        self.lines = 1  # the line being decoded, for the error message
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending and not self.eof:
            chunk = self.raw.read(_CHUNK)
            self.eof = not chunk
            try:
                text = self.decoder.decode(chunk, final=self.eof)
            except UnicodeDecodeError as exc:
                line = self.lines + exc.object[: exc.start].count("\n".encode(exc.encoding))
                message = f"not valid {self.name} text (line {line}); save it as UTF-8"
                raise DataError(
                    f"{self.path.name}, line {line}: {message}",
                    fix="Save the file as UTF-8 and read it again.",
                    problems=[FieldProblem(loc="file", message=message, line=line)],
                ) from None
            self.lines += text.count("\n")
            self.pending = text.encode("utf-8")
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()
