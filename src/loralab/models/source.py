"""Where a model comes from: a local folder, the local Hugging Face cache, or the hub.

Torch-free, so the server and the memory estimate can use it. ``huggingface_hub`` is imported
inside the functions (it is light, but only the paths that need it should pay for it).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loralab.errors import HubUnavailable, ModelError

__all__ = [
    "ModelSource",
    "cached_config_path",
    "hub_endpoint",
    "hub_is_offline",
    "hub_is_reachable",
    "local_model_dir",
    "resolve_source",
]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: ``location`` is a folder for local and cached models, the id for hub."""

    kind: Literal["local", "cached", "hub"]
    name: str
    location: str
    revision: str | None = None

    @property
    def offline_ok(self) -> bool:
        """Loadable without the network."""
        return self.kind in ("local", "cached")


def _looks_like_path(name: str) -> bool:
    # A hub id is "name" or "org/name"; anything else with separators is meant as a path.
    return (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
        or name.endswith("/")
    )


def local_model_dir(name_or_path: str) -> Path | None:
    """The local model folder ``name_or_path`` names, or None when it reads as a hub id.

    Raises:
        ModelError: it is a path that does not exist, is not a folder, or has no config.json.
    """
    path = Path(name_or_path).expanduser()
    if not path.exists():
        if _looks_like_path(name_or_path):
            raise ModelError(
                f"Model folder {name_or_path} does not exist.",
                fix="Check the path, or give a Hugging Face model id like Qwen/Qwen2.5-0.5B.",
            )
        return None
    if not path.is_dir():
        raise ModelError(
            f"{name_or_path} is a file, not a model folder.",
            fix="Give the folder that holds config.json and the weights.",
        )
    if not (path / "config.json").is_file():
        raise ModelError(
            f"{name_or_path} is not a model folder: it has no config.json.",
            fix="Give the folder that save_pretrained wrote (config.json, weights, tokenizer).",
        )
    return path.resolve()


def cached_config_path(repo_id: str, revision: str | None = None) -> Path | None:
    """``config.json`` of ``repo_id`` in the local Hugging Face cache, or None if not cached."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.errors import HFValidationError
    except ImportError:  # pragma: no cover - transformers always brings it
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except HFValidationError as exc:
        raise ModelError(
            f"'{repo_id}' is neither a local folder nor a valid Hugging Face model id ({exc}).",
            fix="Use an id like Qwen/Qwen2.5-0.5B-Instruct, or a path to a model folder.",
        ) from None
    return Path(found) if isinstance(found, str) else None


def hub_is_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, read now rather than at import."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_endpoint() -> str:
    """The hub address (HF_ENDPOINT, read now), without a trailing slash."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_is_reachable(timeout: float = 3.0) -> bool:
    """True when the hub answers an HTTP request within ``timeout`` seconds."""
    if hub_is_offline():
        return False
    request = urllib.request.Request(f"{hub_endpoint()}/api/models?limit=1", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, even if with an error status
    except (urllib.error.URLError, OSError, ValueError):
        return False


def resolve_source(
    name_or_path: str, revision: str | None = None, *, check_hub: bool = True
) -> ModelSource:
    """Decide where ``name_or_path`` loads from.

    Args:
        name_or_path: a local folder or a hub id.
        revision: a hub branch, tag or commit.
        check_hub: for an uncached hub id, check that the hub answers (takes up to 3 s when
            it does not); False skips the check and returns a ``hub`` source.

    Raises:
        ModelError: a path that is not a model folder, or an invalid id.
        HubUnavailable: a hub id that is not cached while the hub cannot be reached.
    """
    if name_or_path.startswith("model:"):
        raise ModelError(
            f"`{name_or_path}` refers to a model registered on a loralab server.",
            fix="Outside the server, set model.name_or_path to the model's folder or a hub id.",
        )
    local = local_model_dir(name_or_path)
    if local is not None:
        return ModelSource("local", name_or_path, str(local))
    config = cached_config_path(name_or_path, revision)
    if config is not None:
        return ModelSource("cached", name_or_path, str(config.parent), revision)
    if check_hub and not hub_is_reachable():
        why = "HF_HUB_OFFLINE is set" if hub_is_offline() else f"{hub_endpoint()} did not answer"
        raise HubUnavailable(
            f"model {name_or_path} is not in the local cache and the hub cannot be reached; "
            f"download it first or give a local path ({why})",
            fix=f"On a machine with internet: `huggingface-cli download {name_or_path}`, then "
            "copy the cache (~/.cache/huggingface/hub) or the folder here.",
        )
    return ModelSource("hub", name_or_path, name_or_path, revision)
