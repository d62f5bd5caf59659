"""A local OpenAI-shaped judge: a tiny FastAPI app on a loopback port, answering
``/v1/chat/completions`` with a deterministic rule picked by the ``model`` asked for.

It stands in for a paid judge API (the only fake these tests use). Models:

- ``reference``: the answer equal to the reference wins (``A``/``B``), else ``TIE``;
- ``always-a``: says ``A`` whatever it reads (a judge with pure position bias);
- ``broken``: answers 500.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

_BLOCK = re.compile(r"\[(Reference answer|Answer A|Answer B)\]\n(.*?)(?=\n\n\[|\n\nWhich|\Z)", re.S)


def _verdict(model: str, text: str) -> str:
    if model == "always-a":
        return "A"
    blocks = dict(_BLOCK.findall(text))
    reference = blocks.get("Reference answer", "").strip()
    if blocks.get("Answer A", "").strip() == reference:
        return "A"
    if blocks.get("Answer B", "").strip() == reference:
        return "B"
    return "TIE"


def judge_app() -> FastAPI:
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        app.state.requests.append(body)
        if body["model"] == "broken":
            return JSONResponse({"error": {"message": "down", "type": "server_error"}}, 500)
        said = _verdict(body["model"], body["messages"][-1]["content"])
        return {
            "id": f"chatcmpl-{len(app.state.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": said},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
        }

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JudgeServer:
    def __init__(self, app: FastAPI, port: int) -> None:
        self.app, self.port = app, port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict]:
        return self.app.state.requests


@pytest.fixture(scope="session")
def judge_server() -> Iterator[JudgeServer]:
    """The local judge, serving for the whole session."""
    app, port = judge_app(), _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the local judge did not start")
        time.sleep(0.05)
    yield JudgeServer(app, port)
    server.should_exit = True
    thread.join(timeout=10)
