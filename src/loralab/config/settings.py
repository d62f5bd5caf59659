"""Process settings for the server and workers, built in ``create_app()`` or the CLI's
``main()``, never at import time, so tests pass their own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    cors_origins: list[str] = Field(default_factory=list, description="CORS is off unless set.")
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

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'loralab.db'}"

    @property
    def is_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")
