"""Build the tiny demo model in a child process: ``python -m loralab.jobs.tiny OUT ARCH``.

The web UI offers it so that a first-time user can try the whole workflow without a terminal
or a download. The model is built with transformers, which the server never imports, so it runs
in its own short-lived process, written to a scratch folder beside ``OUT`` and moved into place
only when complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from loralab.errors import ModelError

__all__ = ["BUILD_TIMEOUT_SECONDS", "build_tiny_model"]

BUILD_TIMEOUT_SECONDS = 300


def build_tiny_model(out: Path, arch: str, *, timeout: float = BUILD_TIMEOUT_SECONDS) -> Path:
    """Build the tiny ``arch`` model into ``out`` (kept when already complete); returns ``out``.

    Raises:
        ModelError: the child process failed or ran past ``timeout`` (its last error line is
            in the message); nothing is left at ``out``.
    """
    if (out / "config.json").is_file() and (out / "tokenizer.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "loralab.jobs.tiny", str(scratch), arch],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or "").splitlines() if ln.strip()]
            raise ModelError(
                f"Building the tiny {arch} model failed: {lines[-1] if lines else 'no output'}",
                code="tiny_model_failed",
            )
        try:
            scratch.rename(out)
        except OSError as exc:
            if not (out / "config.json").is_file():  # not a concurrent build that won the race
                raise ModelError(
                    f"{out} exists and is not a model folder: {exc.strerror or exc}.",
                    code="tiny_model_failed",
                    fix="Move that folder away, then build the demo model again.",
                ) from None
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"Building the tiny {arch} model took over {timeout:.0f} s and was stopped.",
            code="tiny_model_failed",
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m loralab.jobs.tiny OUT ARCH", file=sys.stderr)
        return 2
    from loralab.models import make_tiny_model

    make_tiny_model(Path(argv[0]), arch=argv[1])  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
