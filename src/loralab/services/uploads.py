"""What an uploaded dataset file must be: an allowed extension and content that matches it.

The name a person's file had is display metadata only; nothing here turns it into a path.
"""

from __future__ import annotations

import codecs
from pathlib import Path, PurePosixPath, PureWindowsPath

from loralab.errors import DataError, FieldProblem, Unsupported

__all__ = ["ALLOWED_EXTENSIONS", "check_upload_content", "check_upload_name", "display_name"]

ALLOWED_EXTENSIONS = (".json", ".jsonl", ".csv", ".parquet")
_CHUNK = 1 << 20


def display_name(filename: str) -> str:
    """The last part of a (possibly path-like) file name, for showing."""
    name = PurePosixPath(PureWindowsPath(filename).name).name.strip()
    return name[:255] or "dataset"


def check_upload_name(filename: str) -> str:
    """The lower-case extension of an upload's name, or 415 ``unsupported_file``."""
    name = display_name(filename)
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else ""
    if ext not in ALLOWED_EXTENSIONS:
        raise Unsupported(
            f"'{name[:100]}' is not a supported dataset file.",
            code="unsupported_file",
            status=415,
            fix=f"Upload a {', '.join(ALLOWED_EXTENSIONS)} file.",
        )
    return ext


def _content_error(message: str, *, line: int | None = None, code: str = "unsupported_file"):
    return DataError(
        message,
        code=code,
        fix="Upload a UTF-8 JSON, JSONL or CSV file, or a Parquet file.",
        problems=[FieldProblem(loc="file", message=message, line=line)],
    )


def check_upload_content(path: Path, ext: str) -> None:
    """Refuse empty files (422 ``empty_file``), fake Parquet and text that is not UTF-8
    (422 ``unsupported_file``). Reads the file in chunks."""
    size = path.stat().st_size
    if size == 0:
        raise _content_error("The file is empty.", code="empty_file")
    with path.open("rb") as f:
        if ext == ".parquet":
            head = f.read(4)
            f.seek(max(size - 4, 0))
            if size < 12 or head != b"PAR1" or f.read(4) != b"PAR1":
                raise _content_error("The file is not Parquet (no PAR1 magic bytes).")
            return
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        line, blank = 1, True
        while chunk := f.read(_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = line + chunk.count(b"\n", 0, exc.start)
                raise _content_error(
                    f"The file is not UTF-8 text (line {at}); save it as UTF-8.", line=at
                ) from None
            if "\x00" in text:
                raise _content_error("The file holds binary data, not text.")
            blank = blank and not text.strip()
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _content_error("The file ends inside a UTF-8 character.", line=line) from None
    if blank:
        raise _content_error("The file holds only whitespace.", code="empty_file")
