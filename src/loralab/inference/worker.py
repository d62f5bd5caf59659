"""``python -m loralab.inference.worker --port N``: the engine served over loopback HTTP.

The server starts it (``loralab.jobs.inference_process``) with a port it chose and a per-start
token in ``LORALAB_INFERENCE_TOKEN``; every request must carry that token in the
``X-Loralab-Inference-Token`` header. The protocol:

- ``GET /health`` → ``{ok, pid, device, device_reason, budget_bytes, loaded}``.
- ``POST /generate`` ``{target: ModelTarget, messages | prompt, params: SamplingParams,
  stream: bool}``. Not streaming: ``{"result": Generation}``. Streaming: newline-delimited
  JSON, ``{"started": true}`` once the model is loaded and the prompt accepted, then
  ``{"delta": "..."}`` lines and ``{"result": Generation}``. An error before the start is the
  response (its status, ``{"error": problem}``); after it, an ``{"error": problem}`` line.

The worker exits when the server that started it is gone (its parent changes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loralab.errors import InvalidRequest, LoralabError
from loralab.inference.params import ModelTarget, SamplingParams

__all__ = ["TOKEN_ENV", "TOKEN_HEADER", "main"]

TOKEN_ENV = "LORALAB_INFERENCE_TOKEN"
TOKEN_HEADER = "X-Loralab-Inference-Token"
MAX_BODY = 4 * 1024 * 1024

log = logging.getLogger("loralab.inference")


def _problem(exc: Exception) -> tuple[int, dict[str, Any]]:
    if isinstance(exc, LoralabError):
        return exc.status, exc.to_problem()
    log.exception("generation failed")
    error = LoralabError(
        f"The inference worker failed: {type(exc).__name__}: {str(exc)[:300]}",
        code="inference_failed",
        status=500,
        fix="The details are in the inference worker's log (data dir, inference/worker.log).",
    )
    return error.status, error.to_problem()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Headers and body go out as separate writes; with Nagle's algorithm on, the body waits for
    # the client's (delayed) ACK of the headers, tens of milliseconds on every answer.
    disable_nagle_algorithm = True
    # Keep-alive: a client (the server's one httpx client) reuses its connection, so an answer
    # costs no TCP handshake and no new handler thread. Streams end by closing theirs.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        log.debug("%s " + format, self.address_string(), *args)

    def _send_json(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, exc: Exception) -> None:
        status, problem = _problem(exc)
        self._send_json(status, {"error": problem})

    def _authorized(self) -> bool:
        given = self.headers.get(TOKEN_HEADER, "")
        if secrets.compare_digest(given.encode(), self.server.token.encode()):
            return True
        self.close_connection = True  # its body (if any) is never read
        self._send_json(401, {"error": {"code": "unauthorized", "detail": "wrong token"}})
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        if not self._authorized():
            return
        if self.path != "/health":
            self._send_json(404, {"error": {"code": "not_found", "detail": self.path}})
            return
        engine = self.server.engine
        self._send_json(
            200,
            {
                "ok": True,
                "pid": os.getpid(),
                "device": engine.device,
                "device_reason": self.server.device_reason,
                "budget_bytes": engine.memory_budget_bytes,
                "loaded": engine.loaded(),
            },
        )

    def do_POST(self) -> None:  # noqa: N802 - stdlib's name
        if not self._authorized():
            return
        if self.path != "/generate":
            self.close_connection = True
            self._send_json(404, {"error": {"code": "not_found", "detail": self.path}})
            return
        try:
            request = self._read_request()
        except Exception as exc:
            self.close_connection = True  # the body may be left unread
            self._send_error(exc)
            return
        stream = request.pop("stream")
        engine = self.server.engine
        if not stream:
            try:
                result = engine.generate(**request)
            except Exception as exc:
                self._send_error(exc)
                return
            self._send_json(200, {"result": result.to_dict()})
            return
        items = engine.stream(**request)
        try:
            next(items)  # "" once loaded and accepted
        except Exception as exc:
            self._send_error(exc)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")  # no length: the stream ends with the connection
        self.close_connection = True
        self.end_headers()
        try:
            self._line({"started": True})
            for item in items:
                if isinstance(item, str):
                    if item:
                        self._line({"delta": item})
                else:
                    self._line({"result": item.to_dict()})
        except (BrokenPipeError, ConnectionResetError):
            log.info("the reader went away; generation stopped")
        except Exception as exc:
            self._line({"error": _problem(exc)[1]})
        finally:
            items.close()

    def _line(self, doc: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(doc).encode() + b"\n")
        self.wfile.flush()

    def _read_request(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            raise InvalidRequest("The request body is empty or too large.")
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError as exc:
            raise InvalidRequest(f"The request body is not JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("target"), dict):
            raise InvalidRequest("The request needs a target.")
        try:
            target = ModelTarget.from_dict(body["target"])
            params = SamplingParams.from_dict(body.get("params") or {})
        except TypeError as exc:
            raise InvalidRequest(f"Bad target or params: {exc}") from None
        return {
            "target": target,
            "messages": body.get("messages"),
            "prompt": body.get("prompt"),
            "params": params,
            "stream": bool(body.get("stream")),
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, engine, token: str, device_reason: str) -> None:
        super().__init__(address, _Handler)
        self.engine = engine
        self.token = token
        self.device_reason = device_reason


def _watch_parent(parent: int, server: _Server) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("the server that started this worker is gone; stopping")
    server.shutdown()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loralab.inference.worker", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--memory-mb", type=int, default=None, help="weights kept loaded, in MB")
    p.add_argument("--device", default=None, help="cpu or cuda:0 (default: what torch sees)")
    p.add_argument("--device-reason", default="", help="why this device (shown in the status)")
    p.add_argument("--parent-pid", type=int, default=None)
    args = p.parse_args(argv)
    token = os.environ.get(TOKEN_ENV)
    if not token:
        p.error(f"{TOKEN_ENV} must be set")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from loralab.inference.engine import Engine

    budget = args.memory_mb * 1024 * 1024 if args.memory_mb else None
    engine = Engine(memory_budget_bytes=budget, device=args.device)
    server = _Server((args.host, args.port), engine, token, args.device_reason)

    def stop(_signum, _frame) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, server), daemon=True).start()
    log.info(
        "inference worker on %s:%d, device %s (%s), budget %s",
        args.host,
        args.port,
        engine.device,
        args.device_reason or "default",
        f"{args.memory_mb} MB" if args.memory_mb else "none",
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
