"""Receive a multipart upload straight from the request stream into a file on disk.

The file part is written chunk by chunk as it arrives, so memory use stays flat whatever the
size; parsing and writing run in a worker thread, a batch of chunks at a time, so a slow disk
never stalls the event loop. The size limit is enforced while streaming (and up front from
``Content-Length``), and so is the free disk (507 ``insufficient_storage``, with the numbers).
The file name is checked as soon as its part header arrives, the first bytes as soon as they
do: an archive renamed to ``.jsonl`` is refused before the rest is sent, and UTF-16/UTF-32 text
with a byte-order mark is stored as UTF-8. The file is written under a temporary ``.part`` name
(the service renames it once it is accepted), and on any failure it is removed before the
error propagates.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from loralab.data import binary_kind
from loralab.diskspace import check_free_space, is_disk_full, storage_error
from loralab.errors import DataError, FieldProblem, LoralabError, TooLarge

__all__ = ["PART_PREFIX", "ReceivedUpload", "receive_upload"]

PART_PREFIX = ".upload-"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small fields around the file
MAX_FIELD_BYTES = 16 * 1024
MAX_FIELDS = 16
MAX_FILENAME_CHARS = 255
MAX_HEADER_BYTES = 16 * 1024  # one part header (a long file name, percent-encoded, fits)
_BATCH = 1 << 20  # bytes handed to the parser per trip to a worker thread
_SPACE_CHECK_BYTES = 64 * 1024 * 1024  # free disk is measured again after this many bytes
_SNIFF_BYTES = 16  # enough for every magic number and byte-order mark
_WHAT = "store the upload"
# Text with these byte-order marks is stored as UTF-8, the one encoding the upload check
# (services.uploads) and every later reader of the stored file take; longest first.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


@dataclass
class ReceivedUpload:
    """A file part written to ``path`` plus the small text fields that came with it; ``size`` is
    the bytes stored (UTF-8 when the upload was UTF-16/UTF-32 text)."""

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
    return name.replace("\x00", "")


def _check_filename_length(filename: str) -> None:
    # The last part of a path-like name is what is shown and checked, as display_name does.
    name = PurePosixPath(PureWindowsPath(filename).name).name.strip()
    if len(name) > MAX_FILENAME_CHARS:
        raise LoralabError(
            f"The file name is {len(name)} characters long; loralab accepts at most "
            f"{MAX_FILENAME_CHARS}.",
            code="filename_too_long",
            status=422,
            fix=f"Rename the file to at most {MAX_FILENAME_CHARS} characters and upload it again.",
        )


def _content_error(message: str, fix: str) -> DataError:
    return DataError(
        message,
        code="unsupported_file",
        fix=fix,
        problems=[FieldProblem(loc="file", message=message, line=1)],
    )


class _Receiver:
    def __init__(
        self,
        dest_dir: Path,
        max_bytes: int,
        check_filename: Callable[[str], object],
        expected: int | None,
    ):
        self.dest_dir = dest_dir
        self.max_bytes = max_bytes
        self.check_filename = check_filename
        self.expected = expected  # bytes the body says it holds, when it says
        self.headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self.part: str | None = None  # "file", a field name, or "" for an ignored part
        self.fh: IO[bytes] | None = None
        self.path: Path | None = None
        self.filename: str | None = None
        self.ext = ""
        self.size = 0  # bytes received
        self.written = 0  # bytes stored (UTF-8 when the upload was UTF-16/UTF-32)
        self.next_space_check = _SPACE_CHECK_BYTES
        self.head = b""  # the first bytes of the file, held until they can be sniffed
        self.sniffed = False
        self.decoder: codecs.IncrementalDecoder | None = None
        self.encoding = ""
        self.fields: dict[str, str] = {}
        self._text = bytearray()
        self.ended = False

    def callbacks(self) -> dict[str, Callable]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": lambda: setattr(self, "ended", True),
        }

    def on_part_begin(self) -> None:
        self.headers, self.part, self._text = {}, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        self._check_header()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        if len(self._field) + len(self._value) > MAX_HEADER_BYTES:
            raise _bad_request(
                f"A part header is longer than {MAX_HEADER_BYTES // 1024} KB (a file name that "
                "long cannot be stored)."
            )

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
            _check_filename_length(self.filename)
            ext = self.check_filename(self.filename)
            self.ext = ext if isinstance(ext, str) else ""
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
            chunk = data[start:end]
            if not self.sniffed:
                self.head += chunk
                if len(self.head) < _SNIFF_BYTES:
                    return
                chunk = self._sniff()
            self._write(chunk)
        elif self.part:
            self._text += data[start:end]
            if len(self._text) > MAX_FIELD_BYTES:
                raise _bad_request(f"The form field '{self.part[:50]}' is too long.")

    def _sniff(self) -> bytes:
        """Refuse an archive renamed to a text suffix; set up decoding of UTF-16/UTF-32 text.

        Returns the held bytes, to be written now (less the byte-order mark of wide text).
        """
        head, self.head, self.sniffed = self.head, b"", True
        if self.ext == ".parquet":
            return head
        found = binary_kind(head)
        if found is not None:
            what, fix = found
            shown = PurePosixPath(PureWindowsPath(self.filename or "").name).name[:100]
            raise _content_error(f"'{shown}' is {what}, not a {self.ext} file.", fix)
        for bom, encoding, name in _WIDE_BOMS:
            if head.startswith(bom):
                self.decoder = codecs.getincrementaldecoder(encoding)("strict")
                self.encoding = name
                return head[len(bom) :]
        return head

    def _write(self, chunk: bytes, *, final: bool = False) -> None:
        if self.decoder is not None:
            try:
                chunk = self.decoder.decode(chunk, final=final).encode("utf-8")
            except UnicodeDecodeError:
                raise _content_error(
                    f"The file starts like {self.encoding} text but is not valid {self.encoding}.",
                    "Save the file as UTF-8 and upload it again.",
                ) from None
        if not chunk:
            return
        assert self.fh is not None
        try:
            self.fh.write(chunk)
        except OSError as exc:
            if is_disk_full(exc):
                raise storage_error(exc, what=_WHAT) from None
            raise
        self.written += len(chunk)
        if self.written >= self.next_space_check:
            # Others write to the same disk meanwhile (jobs, other uploads): measure again.
            self.next_space_check = self.written + _SPACE_CHECK_BYTES
            left = (self.expected - self.size) if self.expected else _SPACE_CHECK_BYTES
            check_free_space(self.dest_dir, max(left, 0), what=_WHAT)

    def on_part_end(self) -> None:
        if self.part == "file" and self.fh is not None:
            if not self.sniffed:
                self._write(self._sniff())
            if self.decoder is not None:
                self._write(b"", final=True)
            try:
                self.fh.close()
            except OSError as exc:
                if is_disk_full(exc):
                    raise storage_error(exc, what=_WHAT) from None
                raise
        elif self.part:
            try:
                self.fields[self.part] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad_request(f"The form field '{self.part[:50]}' is not UTF-8.") from None
        self.part = None

    def finish(self) -> None:
        assert self.path is not None
        os.chmod(self.path, 0o600)

    def cleanup(self) -> None:
        if self.fh is not None and not self.fh.closed:
            with contextlib.suppress(OSError):  # a full disk fails the flush; the file goes
                self.fh.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _prepare(dest_dir: Path, expected: int | None) -> None:
    dest_dir.mkdir(parents=True, exist_ok=True)
    check_free_space(dest_dir, expected or 0, what=_WHAT)


async def receive_upload(
    request: Request,
    *,
    dest_dir: Path,
    max_bytes: int,
    check_filename: Callable[[str], object],
) -> ReceivedUpload:
    """Stream the request's multipart body; the ``file`` part goes to a new file in ``dest_dir``.

    Raises TooLarge (413) over ``max_bytes``, InsufficientStorage (507) when the disk cannot
    hold it (checked before the first byte and while streaming), whatever ``check_filename``
    raises for a bad name, 422 ``filename_too_long`` for a name over ``MAX_FILENAME_CHARS``,
    422 ``unsupported_file`` for an archive or binary file named as text, and a 422 problem for
    a body that is not a well-formed form with one file.
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
    expected = int(length) if length.isdigit() else None
    if expected is not None and expected > max_bytes + MULTIPART_OVERHEAD:
        raise _too_large(max_bytes)
    await run_in_threadpool(_prepare, dest_dir, expected)
    receiver = _Receiver(dest_dir, max_bytes, check_filename, expected)
    parser = MultipartParser(options[b"boundary"], receiver.callbacks())
    try:
        batch: list[bytes] = []
        held = 0
        async for chunk in request.stream():
            if chunk:
                batch.append(chunk)
                held += len(chunk)
            if held >= _BATCH:
                await run_in_threadpool(parser.write, b"".join(batch))
                batch, held = [], 0
        if batch:
            await run_in_threadpool(parser.write, b"".join(batch))
        await run_in_threadpool(parser.finalize)
        if not receiver.ended:
            raise _bad_request("The upload ended before the form was complete.")
        if receiver.path is None or receiver.filename is None:
            raise _bad_request("The form has no 'file' part.", code="missing_file")
        await run_in_threadpool(receiver.finish)
    except MultipartParseError:
        receiver.cleanup()
        raise _bad_request("The upload is not a well-formed multipart form.") from None
    except BaseException:
        # Synchronous on purpose: a cancelled request cannot await a thread, and an unlink is
        # quick. Threads are never cancelled mid-write (run_in_threadpool waits for them).
        receiver.cleanup()
        raise
    return ReceivedUpload(receiver.path, receiver.filename, receiver.written, receiver.fields)
