"""Settings: the only module that reads the environment.

Every option has an environment variable (``FHIR_*``) and most have a CLI flag on
``fhir-server serve``; flags win over the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["Settings", "load_settings"]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: start the embedded PostgreSQL in data_dir
    data_dir: Path = field(default_factory=lambda: Path("data/pg"))
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None  # public base of the FHIR API; default http://host:port/fhir
    pool_min: int = 2
    pool_max: int = 20
    max_body_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 64
    default_page_size: int = 20
    max_page_size: int = 1000
    max_bundle_entries: int = 10_000
    max_conditional_delete: int = 100  # a conditional delete matching more answers 412
    # Database time limits of a request's connection, in seconds (0 = none): a statement running
    # longer is cancelled (503 too-costly); a session idle inside a transaction longer is ended.
    statement_timeout: float = 30.0
    idle_in_transaction_timeout: float = 60.0
    export_statement_timeout: float = 3600.0  # $export jobs read one snapshot in long statements
    # Waiting longer than this for a pooled connection answers 503 (overload, or the database is down).
    pool_timeout: float = 5.0
    # After SIGTERM/SIGINT, requests still running get this long before they are cancelled.
    shutdown_grace: float = 10.0
    # SMART on FHIR enforcement; "off" is a development switch that is logged and shown in /metadata.
    auth: str = "on"
    log_level: str = "info"
    demo: bool = False  # load the demo data set at start-up (idempotent)
    # Encrypts the OAuth signing keys stored in PostgreSQL (from the environment only, never a flag).
    key_passphrase: str | None = field(default=None, repr=False)

    @property
    def public_base(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}/fhir").rstrip("/")

    def as_env(self) -> dict[str, str]:
        """These settings as FHIR_* variables, for worker processes that call load_settings()."""
        env = {"FHIR_DATA_DIR": str(self.data_dir), "FHIR_HOST": self.host, "FHIR_PORT": str(self.port),
               "FHIR_POOL_MIN": str(self.pool_min), "FHIR_POOL_MAX": str(self.pool_max),
               "FHIR_MAX_BODY_BYTES": str(self.max_body_bytes), "FHIR_MAX_BUNDLE_ENTRIES": str(self.max_bundle_entries),
               "FHIR_DEFAULT_PAGE_SIZE": str(self.default_page_size), "FHIR_MAX_PAGE_SIZE": str(self.max_page_size),
               "FHIR_AUTH": self.auth, "FHIR_LOG_LEVEL": self.log_level, "FHIR_DEMO": "1" if self.demo else "",
               "FHIR_STATEMENT_TIMEOUT": str(self.statement_timeout),
               "FHIR_IDLE_IN_TRANSACTION_TIMEOUT": str(self.idle_in_transaction_timeout),
               "FHIR_EXPORT_STATEMENT_TIMEOUT": str(self.export_statement_timeout),
               "FHIR_POOL_TIMEOUT": str(self.pool_timeout), "FHIR_SHUTDOWN_GRACE": str(self.shutdown_grace)}
        if self.database_url:
            env["FHIR_DATABASE_URL"] = self.database_url
        if self.base_url:
            env["FHIR_BASE_URL"] = self.base_url
        return env

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def load_settings() -> Settings:
    env = os.environ
    return Settings(
        database_url=env.get("FHIR_DATABASE_URL") or None,
        data_dir=Path(env.get("FHIR_DATA_DIR", "data/pg")),
        host=env.get("FHIR_HOST", "127.0.0.1"),
        port=_env_int("FHIR_PORT", 8080),
        base_url=env.get("FHIR_BASE_URL") or None,
        pool_min=_env_int("FHIR_POOL_MIN", 2),
        pool_max=_env_int("FHIR_POOL_MAX", 20),
        max_body_bytes=_env_int("FHIR_MAX_BODY_BYTES", 16 * 1024 * 1024),
        max_bundle_entries=_env_int("FHIR_MAX_BUNDLE_ENTRIES", 10_000),
        default_page_size=_env_int("FHIR_DEFAULT_PAGE_SIZE", 20),
        max_page_size=_env_int("FHIR_MAX_PAGE_SIZE", 1000),
        statement_timeout=_env_float("FHIR_STATEMENT_TIMEOUT", 30.0),
        idle_in_transaction_timeout=_env_float("FHIR_IDLE_IN_TRANSACTION_TIMEOUT", 60.0),
        export_statement_timeout=_env_float("FHIR_EXPORT_STATEMENT_TIMEOUT", 3600.0),
        pool_timeout=_env_float("FHIR_POOL_TIMEOUT", 5.0),
        shutdown_grace=_env_float("FHIR_SHUTDOWN_GRACE", 10.0),
        auth=env.get("FHIR_AUTH", "on").lower(),
        log_level=env.get("FHIR_LOG_LEVEL", "info"),
        demo=bool(env.get("FHIR_DEMO")),
        key_passphrase=env.get("FHIR_KEY_PASSPHRASE") or None,
    )
