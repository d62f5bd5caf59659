"""Push an export to the Hugging Face Hub: the adapter, the merged model or the GGUF files
(with the Modelfile and the model card). The token is passed in, used for the upload only, and
scrubbed from every error message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loralab.errors import HubUnavailable, LoralabError

__all__ = ["PUSHABLE", "push_folder", "upload_paths"]

# Transport errors of the hub client (httpx / httpx2 / requests), matched by name.
_NETWORK_ERRORS = {"TransportError", "NetworkError", "ConnectError", "TimeoutException"}

# What a push sends, per choice: folders and files of the export, relative to its folder.
PUSHABLE = {
    "adapter": ("adapter",),
    "merged": ("merged",),
    "gguf": ("gguf", "Modelfile", "README.md"),
}


def upload_paths(export_dir: Path, what: str) -> list[Path]:
    """The export's paths that a push of ``what`` sends (those that exist)."""
    return [export_dir / name for name in PUSHABLE[what] if (export_dir / name).exists()]


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "hf_***") if token else text


def push_folder(
    export_dir: Path, what: str, repo_id: str, *, token: str, private: bool = True
) -> dict[str, Any]:
    """Create ``repo_id`` (if needed) and upload the export's ``what`` to it.

    Returns ``{repo_id, url, files}``. Raises HubUnavailable (the hub cannot be reached, or
    offline mode is on) and LoralabError ``hub_refused`` (the hub said no: a bad token, no
    write access), never with the token in the message.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    paths = upload_paths(export_dir, what)
    if not paths:
        raise LoralabError(f"The export holds no {what} files to push.", code="nothing_to_push")
    api = HfApi(token=token)
    sent: list[str] = []
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        for path in paths:
            if path.is_dir():
                api.upload_folder(folder_path=str(path), repo_id=repo_id, path_in_repo="")
                sent += [p.name for p in sorted(path.iterdir()) if p.is_file()]
            else:
                api.upload_file(path_or_fileobj=str(path), path_in_repo=path.name, repo_id=repo_id)
                sent.append(path.name)
    except OfflineModeIsEnabled:
        raise HubUnavailable(
            "This server is in offline mode (HF_HUB_OFFLINE), so nothing was pushed.",
            fix="Unset HF_HUB_OFFLINE for the server, or download the files and upload them.",
        ) from None
    except HfHubHTTPError as exc:
        raise LoralabError(
            f"The Hugging Face Hub refused the push: {_scrub(str(exc), token)[:300]}",
            code="hub_refused",
            fix="Check that the token has write access to this repository.",
        ) from None
    except Exception as exc:  # the hub client's transport errors have no common public base
        message = _scrub(f"{type(exc).__name__}: {exc}", token)[:300]
        kinds = {c.__name__ for c in type(exc).__mro__}
        if isinstance(exc, OSError) or kinds & _NETWORK_ERRORS:
            raise HubUnavailable(
                f"The Hugging Face Hub cannot be reached ({message}); nothing was pushed.",
                fix="Connect this machine to the internet, or download the files and upload "
                "them yourself.",
            ) from None
        raise LoralabError(f"The push failed: {message}", code="push_failed") from None
    return {"repo_id": repo_id, "url": f"https://huggingface.co/{repo_id}", "files": sent}
