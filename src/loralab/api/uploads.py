"""Receive a multipart upload straight from the request stream into a file on disk.

The file part is written chunk by chunk as it arrives, so memory use stays flat whatever the
size. The size limit is enforced while streaming (and up front from ``Content-Length``), the
file name is checked as soon as its part header arrives, and on any failure the partial file
is removed before the error propagates.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import Request

from loralab.errors import LoralabError, TooLarge

__all__ = ["PART_PREFIX", "ReceivedUpload", "receive_upload"]

PART_PREFIX = ".upload-"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small fields around the file
MAX_FIELD_BYTES = 16 * 1024
MAX_FIELDS = 16


@dataclass
class ReceivedUpload:
    """A file part written to ``path`` plus the small text fields that came with it."""

    path: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)


def _bad_request(message: str, code: str = "invalid_upload") -> LoralabError:
    return LoralabError(
        message,
        code=code,
        status=422,
        fix="Send multipart/form-data with one 'file' part (and an optional 'name' field).",
    )


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"The upload is larger than the limit of {max_bytes // (1024 * 1024)} MB.",
        fix="Split the file, or raise LORALAB_MAX_UPLOAD_MB on the server.",
    )


def _decode_filename(raw: bytes) -> str:
    try:
        name = raw.decode("utf-8")  # browsers send UTF-8 bytes in the quoted filename
    except UnicodeDecodeError:
        name = raw.decode("latin-1")
    return name.replace("\x00", "")[:255]


class _Receiver:
    def __init__(self, dest_dir: Path, max_bytes: int, check_filename: Callable[[str], object]):
        self.dest_dir = dest_dir
        self.max_bytes = max_bytes
        self.check_filename = check_filename
        self.headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self.part: str | None = None  # "file", a field name, or "" for an ignored part
        self.fh: IO[bytes] | None = None
        self.path: Path | None = None
        self.filename: str | None = None
        self.size = 0
        self.fields: dict[str, str] = {}
        self._text = bytearray()
        self.ended = False

    def callbacks(self) -> dict[str, Callable]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda d, s, e: setattr(self, "_field", self._field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_value", self._value + d[s:e]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": lambda: setattr(self, "ended", True),
        }

    def on_part_begin(self) -> None:
        self.headers, self.part, self._text = {}, None, bytearray()

    def on_header_end(self) -> None:
        self.headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name == "file":
            if self.path is not None:
                raise _bad_request("Send one file per upload.")
            if b"filename" not in options or not options[b"filename"]:
                raise _bad_request("The 'file' part has no file name.", code="missing_file")
            self.filename = _decode_filename(options[b"filename"])
            self.check_filename(self.filename)
            self.path = self.dest_dir / f"{PART_PREFIX}{uuid.uuid4().hex}.part"
            self.fh = open(self.path, "xb")  # noqa: SIM115 - closed in on_part_end or cleanup
            self.part = "file"
        elif b"filename" in options or len(self.fields) >= MAX_FIELDS:
            self.part = ""  # stray files and surplus fields are read past and dropped
        else:
            self.part = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part == "file":
            self.size += end - start
            if self.size > self.max_bytes:
                raise _too_large(self.max_bytes)
            assert self.fh is not None
            self.fh.write(data[start:end])
        elif self.part:
            self._text += data[start:end]
            if len(self._text) > MAX_FIELD_BYTES:
                raise _bad_request(f"The form field '{self.part[:50]}' is too long.")

    def on_part_end(self) -> None:
        if self.part == "file" and self.fh is not None:
            self.fh.close()
        elif self.part:
            try:
                self.fields[self.part] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad_request(f"The form field '{self.part[:50]}' is not UTF-8.") from None
        self.part = None

    def cleanup(self) -> None:
        if self.fh is not None and not self.fh.closed:
            self.fh.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_upload(
    request: Request,
    *,
    dest_dir: Path,
    max_bytes: int,
    check_filename: Callable[[str], object],
) -> ReceivedUpload:
    """Stream the request's multipart body; the ``file`` part goes to a new file in ``dest_dir``.

    Raises TooLarge (413) over ``max_bytes``, whatever ``check_filename`` raises for a bad
    name, and a 422 problem for a body that is not a well-formed form with one file.
    """
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not options.get(b"boundary"):
        raise LoralabError(
            "Uploads must be sent as multipart/form-data.",
            code="unsupported_media_type",
            status=415,
            fix="Send the file in a form field named 'file'.",
        )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + MULTIPART_OVERHEAD:
        raise _too_large(max_bytes)
    dest_dir.mkdir(parents=True, exist_ok=True)
    receiver = _Receiver(dest_dir, max_bytes, check_filename)
    parser = MultipartParser(options[b"boundary"], receiver.callbacks())
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
        if not receiver.ended:
            raise _bad_request("The upload ended before the form was complete.")
        if receiver.path is None or receiver.filename is None:
            raise _bad_request("The form has no 'file' part.", code="missing_file")
    except MultipartParseError:
        receiver.cleanup()
        raise _bad_request("The upload is not a well-formed multipart form.") from None
    except BaseException:
        receiver.cleanup()
        raise
    os.chmod(receiver.path, 0o600)
    return ReceivedUpload(receiver.path, receiver.filename, receiver.size, receiver.fields)
