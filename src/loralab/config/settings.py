"""Process settings for the server and workers, built in ``create_app()`` or the CLI's
``main()``, never at import time, so tests pass their own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Read from arguments, then ``LORALAB_*`` environment variables, then these defaults."""

    model_config = SettingsConfigDict(env_prefix="LORALAB_", extra="forbid")

    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".loralab",
        description="Database, uploads and runs live here.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite at DATA_DIR/loralab.db.",
    )
    host: str = Field(default="127.0.0.1", description="Address to bind.")
    port: int = Field(default=7860, ge=0, le=65535)
    token: str | None = Field(
        default=None,
        description="API token. Required (and generated if empty) when host is not loopback.",
    )
    max_upload_mb: int = Field(default=512, ge=1, description="Largest accepted upload.")
    max_concurrent_jobs: int | None = Field(
        default=None, ge=1, description="Device jobs running at once; empty means one per GPU."
    )
    gpus: int | None = Field(
        default=None,
        ge=0,
        le=1024,
        description="GPUs to schedule device jobs on (0..N-1); empty means the visible ones.",
    )
    cpu_job_slots: int = Field(
        default=2, ge=1, le=64, description="Light jobs (validation, builds) running at once."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Extra Host header values accepted besides the bind."
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Other origins whose pages may call the API (with credentials); CORS is off "
        "unless set, and '*' is refused.",
    )
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    heartbeat_timeout_seconds: float = Field(default=15.0, gt=0)
    cancel_grace_seconds: float = Field(default=60.0, gt=0)
    allow_custom_rewards: bool = Field(
        default=False,
        description="Allow custom Python rewards (and code tests), run in the bubblewrap sandbox.",
    )
    inference_memory_mb: int | None = Field(
        default=None,
        ge=1,
        description="Weights the inference worker keeps loaded (MB); empty means no limit.",
    )
    allow_remote_code: bool = Field(
        default=False,
        description="Accept model.trust_remote_code: true from API requests (runs the model "
        "repository's Python code in the worker).",
    )
    worker_env: list[str] = Field(
        default_factory=list,
        description="Extra environment variables passed to workers by name (e.g. HF_TOKEN for "
        "gated models); workers get only what they need otherwise.",
    )
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain): serve https and wss with it."
    )
    tls_key: Path | None = Field(default=None, description="The certificate's PEM private key.")

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, origins: list[str]) -> list[str]:
        if any(o.strip() == "*" for o in origins):
            raise ValueError(
                "'*' is not allowed: the API accepts credentials (the token cookie), and any "
                "site could then use them. List the origins, e.g. https://ui.example.com"
            )
        return origins

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both, or neither")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'loralab.db'}"

    @property
    def scheme(self) -> str:
        """``https`` when a TLS certificate is set, else ``http``."""
        return "https" if self.tls_cert else "http"

    @property
    def is_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")
