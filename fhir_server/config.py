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
    # SMART on FHIR enforcement; "off" is a development switch that is logged and shown in /metadata.
    auth: str = "on"
    log_level: str = "info"
    demo: bool = False  # load the demo data set at start-up (idempotent)
    # Extra write-rule modules imported at start-up of serve and load (docs/rules.md).
    rule_modules: tuple[str, ...] = ()
    # Encrypts the OAuth signing keys stored in PostgreSQL (from the environment only, never a flag).
    key_passphrase: str | None = field(default=None, repr=False)
    # IG packages (.tgz) loaded at start-up; strict: a package that cannot be used stops start-up.
    profiles_dir: Path = field(default_factory=lambda: Path("profiles"))
    profiles_strict: bool = False
    # Scheduling (fhir_server/scheduling/): the hospital's time zone for availability (IANA name),
    # how long an Appointment/$hold holds its Slot, how long $book answers are kept per Idempotency-Key.
    timezone: str = "UTC"
    hold_minutes: int = 10
    idempotency_hours: int = 24

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
               "FHIR_RULE_MODULES": ",".join(self.rule_modules),
               "FHIR_PROFILES_DIR": str(self.profiles_dir), "FHIR_PROFILES_STRICT": "1" if self.profiles_strict else "",
               "FHIR_TIMEZONE": self.timezone, "FHIR_HOLD_MINUTES": str(self.hold_minutes),
               "FHIR_IDEMPOTENCY_HOURS": str(self.idempotency_hours)}
        if self.database_url:
            env["FHIR_DATABASE_URL"] = self.database_url
        if self.base_url:
            env["FHIR_BASE_URL"] = self.base_url
        return env

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list (blanks dropped)."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


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
        auth=env.get("FHIR_AUTH", "on").lower(),
        log_level=env.get("FHIR_LOG_LEVEL", "info"),
        demo=bool(env.get("FHIR_DEMO")),
        rule_modules=_env_list("FHIR_RULE_MODULES"),
        key_passphrase=env.get("FHIR_KEY_PASSPHRASE") or None,
        profiles_dir=Path(env.get("FHIR_PROFILES_DIR", "profiles")),
        profiles_strict=bool(env.get("FHIR_PROFILES_STRICT")),
        timezone=env.get("FHIR_TIMEZONE") or "UTC",
        hold_minutes=_env_int("FHIR_HOLD_MINUTES", 10),
        idempotency_hours=max(24, _env_int("FHIR_IDEMPOTENCY_HOURS", 24)),
    )
