"""Settings: the only module that reads the environment.

Every option has an environment variable (``FHIR_*``) and most have a CLI flag on
``fhir-server serve``; flags win over the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
    # What one search may ask of the database (search/limits.py; over a limit: 400 too-costly).
    search_max_params: int = 30
    search_max_values: int = 100
    search_max_repeats: int = 10
    search_max_chain_depth: int = 4
    search_max_includes: int = 10
    search_max_include_rounds: int = 4
    search_max_sort_keys: int = 8
    search_max_query_bytes: int = 8192
    search_max_form_bytes: int = 65536
    search_max_typed_criteria: int = 500
    search_max_terms: int = 10000
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
    # Extra write-rule modules imported at start-up of serve and load (docs/rules.md).
    rule_modules: tuple[str, ...] = ()
    # Encrypts the OAuth signing keys stored in PostgreSQL (from the environment only, never a flag).
    key_passphrase: str | None = field(default=None, repr=False)
    # IG packages (.tgz) loaded at start-up; strict: a package that cannot be used stops start-up.
    profiles_dir: Path = field(default_factory=lambda: Path("profiles"))
    profiles_strict: bool = False
    # Profiles every written resource of a type must meet (FHIR_REQUIRED_PROFILES="Patient=url,Observation=url");
    # a claimed (meta.profile) or required profile the server does not know: refused when True, else a warning.
    required_profiles: tuple[tuple[str, str], ...] = ()
    reject_unknown_profiles: bool = False
    # The audit trail's HMAC key (audit/keyring.py): a string from the environment only, else a key file
    # (default audit.key beside the data directory, created on first start with mode 0600).
    audit_key: str | None = field(default=None, repr=False)
    audit_key_file: Path | None = None
    audit_checkpoint_dir: Path | None = None  # where the server writes signed chain checkpoints (None: never)
    audit_checkpoint_seconds: int = 3600
    # Sign-in throttling (smart_auth/throttle.py): per account and per client address, in PostgreSQL.
    login_max_failures: int = 5          # failed sign-ins of one account per window before 429
    login_address_max_failures: int = 50  # failed sign-ins from one client address per window before 429
    login_window_seconds: int = 900
    login_lockout_failures: int = 20     # consecutive failures that lock the account (0: never)
    login_failure_delay: float = 1.0     # seconds each failed sign-in waits before its answer
    # CodeSystem/ValueSet/ConceptMap JSON files loaded at start-up; strict: a broken file stops start-up.
    terminology_dir: Path = field(default_factory=lambda: Path("terminology"))
    terminology_strict: bool = False
    # An $expand (or a value set of the terminology/ folder) over this many codes is too-costly.
    max_expansion: int = 10_000
    # Scheduling (fhir_server/scheduling/): the hospital's time zone for availability (IANA name),
    # how long an Appointment/$hold holds its Slot, how long $book answers are kept per Idempotency-Key.
    timezone: str = "UTC"
    hold_minutes: int = 10
    idempotency_hours: int = 24
    # Branding of the authorization pages (and the hospital app): the name shown in every page's
    # header, and an image file (SVG/PNG/JPEG) served at /auth/logo (same origin: the CSP allows no other).
    hospital_name: str = "General Hospital"
    hospital_logo: Path | None = None
    # Pharmacy (fhir_server/pharmacy/): who is held to "an active order needs a prescriber"
    # (users: user/patient tokens; all: every writer, fhir-server load too; off) and which
    # PractitionerRole codes may prescribe (system|code).
    prescriber_check: str = "users"
    prescriber_roles: tuple[str, ...] = ("http://terminology.hl7.org/CodeSystem/practitioner-role|doctor",)
    # Patient/$summary (fhir_server/summary/): the most recent entries each section lists.
    summary_section_limit: int = 50
    # Claims (fhir_server/claims/): the insurer Organization ids whose claims this server adjudicates
    # (others are stored queued for the insurer's own system), the system|code lists of services that
    # need a preauthorization and of those a person must review (pended), and the default currency.
    claims_adjudicated_insurers: tuple[str, ...] = ("payer-demo",)
    claims_preauth_codes: tuple[str, ...] = ("http://www.ama-assn.org/go/cpt|70551",)
    claims_review_codes: tuple[str, ...] = ("http://www.ama-assn.org/go/cpt|99499",)
    claims_currency: str = "USD"
    # Patient self-registration (fhir_server/accounts/): registrations per client address per window,
    # and how long an e-mail verification link stays valid.
    register_max_per_address: int = 10
    register_window_seconds: int = 3600
    register_verify_seconds: int = 86400
    # Billing (fhir_server/billing/): online payments through Stripe (off without an API key), the
    # webhook signing secret, the API base (a Stripe-compatible test double in the tests) and the
    # hospital name on receipts. Secrets come from the environment only (never in as_env or repr).
    stripe_api_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    # Subscriptions (fhir_server/subscriptions/): one delivery attempt's timeout, consecutive failures
    # before status error, the first retry delay (doubling) and its ceiling, the poll fallback of the
    # workers, and whether rest-hooks may reach private / link-local addresses (SSRF: off by default).
    subscription_timeout: float = 5.0
    subscription_max_failures: int = 5
    subscription_retry_base: float = 1.0
    subscription_retry_max: float = 300.0
    subscription_poll: float = 1.0
    subscription_allow_private: bool = False
    subscription_workers: bool = True  # False: this process delivers nothing (others do)
    # Email (fhir_server/notifications/): smtp://host:port, off when unset; the sender address.
    smtp_url: str | None = None
    smtp_from: str = "fhir-server@localhost"
    # SMS (Twilio's REST shape): API base, account SID, sender number; the auth token only from
    # FHIR_TWILIO_AUTH_TOKEN (a secret: from the environment only, kept out of repr, never logged).
    twilio_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    sms_from: str | None = None

    @property
    def public_base(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}/fhir").rstrip("/")

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.data_dir.parent / "audit.key"

    def as_env(self) -> dict[str, str]:
        """These settings as FHIR_* variables, for worker processes that call load_settings()."""
        env = {"FHIR_DATA_DIR": str(self.data_dir), "FHIR_HOST": self.host, "FHIR_PORT": str(self.port),
               "FHIR_POOL_MIN": str(self.pool_min), "FHIR_POOL_MAX": str(self.pool_max),
               "FHIR_MAX_BODY_BYTES": str(self.max_body_bytes), "FHIR_MAX_BUNDLE_ENTRIES": str(self.max_bundle_entries),
               "FHIR_DEFAULT_PAGE_SIZE": str(self.default_page_size), "FHIR_MAX_PAGE_SIZE": str(self.max_page_size),
               "FHIR_AUTH": self.auth, "FHIR_LOG_LEVEL": self.log_level, "FHIR_DEMO": "1" if self.demo else "",
               "FHIR_RULE_MODULES": ",".join(self.rule_modules),
               "FHIR_PROFILES_DIR": str(self.profiles_dir), "FHIR_PROFILES_STRICT": "1" if self.profiles_strict else "",
               "FHIR_REQUIRED_PROFILES": ",".join(f"{t}={u}" for t, u in self.required_profiles),
               "FHIR_UNKNOWN_PROFILES": "reject" if self.reject_unknown_profiles else "warn",
               "FHIR_STATEMENT_TIMEOUT": str(self.statement_timeout),
               "FHIR_IDLE_IN_TRANSACTION_TIMEOUT": str(self.idle_in_transaction_timeout),
               "FHIR_EXPORT_STATEMENT_TIMEOUT": str(self.export_statement_timeout),
               "FHIR_POOL_TIMEOUT": str(self.pool_timeout), "FHIR_SHUTDOWN_GRACE": str(self.shutdown_grace),
               "FHIR_TERMINOLOGY_DIR": str(self.terminology_dir),
               "FHIR_TERMINOLOGY_STRICT": "1" if self.terminology_strict else "",
               "FHIR_MAX_EXPANSION": str(self.max_expansion),
               "FHIR_TIMEZONE": self.timezone, "FHIR_HOLD_MINUTES": str(self.hold_minutes),
               "FHIR_IDEMPOTENCY_HOURS": str(self.idempotency_hours),
               "FHIR_HOSPITAL_NAME": self.hospital_name,
               "FHIR_PRESCRIBER_CHECK": self.prescriber_check,
               "FHIR_PRESCRIBER_ROLES": ",".join(self.prescriber_roles),
               "FHIR_SUMMARY_SECTION_LIMIT": str(self.summary_section_limit),
               "FHIR_CLAIMS_ADJUDICATED_INSURERS": ",".join(self.claims_adjudicated_insurers),
               "FHIR_CLAIMS_PREAUTH_CODES": ",".join(self.claims_preauth_codes),
               "FHIR_CLAIMS_REVIEW_CODES": ",".join(self.claims_review_codes),
               "FHIR_CLAIMS_CURRENCY": self.claims_currency,
               "FHIR_STRIPE_API_BASE": self.stripe_api_base,
               "FHIR_SUBSCRIPTION_TIMEOUT": str(self.subscription_timeout),
               "FHIR_SUBSCRIPTION_MAX_FAILURES": str(self.subscription_max_failures),
               "FHIR_SUBSCRIPTION_RETRY_BASE": str(self.subscription_retry_base),
               "FHIR_SUBSCRIPTION_RETRY_MAX": str(self.subscription_retry_max),
               "FHIR_SUBSCRIPTION_POLL": str(self.subscription_poll),
               "FHIR_SUBSCRIPTION_ALLOW_PRIVATE": "1" if self.subscription_allow_private else "",
               "FHIR_SUBSCRIPTION_WORKERS": "1" if self.subscription_workers else "0",
               "FHIR_SMTP_FROM": self.smtp_from,
               }
        if self.hospital_logo:
            env["FHIR_HOSPITAL_LOGO"] = str(self.hospital_logo)
        if self.smtp_url:
            env["FHIR_SMTP_URL"] = self.smtp_url
        env["FHIR_TWILIO_URL"] = self.twilio_url
        for name, value in (("FHIR_TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                            ("FHIR_TWILIO_AUTH_TOKEN", self.twilio_auth_token), ("FHIR_SMS_FROM", self.sms_from)):
            if value:
                env[name] = value
        if self.database_url:
            env["FHIR_DATABASE_URL"] = self.database_url
        if self.base_url:
            env["FHIR_BASE_URL"] = self.base_url
        if self.audit_key_file:
            env["FHIR_AUDIT_KEY_FILE"] = str(self.audit_key_file)
        if self.audit_checkpoint_dir:
            env["FHIR_AUDIT_CHECKPOINT_DIR"] = str(self.audit_checkpoint_dir)
        env["FHIR_AUDIT_CHECKPOINT_SECONDS"] = str(self.audit_checkpoint_seconds)
        env.update({"FHIR_LOGIN_MAX_FAILURES": str(self.login_max_failures),
                    "FHIR_LOGIN_ADDRESS_MAX_FAILURES": str(self.login_address_max_failures),
                    "FHIR_LOGIN_WINDOW_SECONDS": str(self.login_window_seconds),
                    "FHIR_LOGIN_LOCKOUT_FAILURES": str(self.login_lockout_failures),
                    "FHIR_LOGIN_FAILURE_DELAY": str(self.login_failure_delay),
                    "FHIR_REGISTER_MAX_PER_ADDRESS": str(self.register_max_per_address),
                    "FHIR_REGISTER_WINDOW_SECONDS": str(self.register_window_seconds),
                    "FHIR_REGISTER_VERIFY_SECONDS": str(self.register_verify_seconds)})
        return env

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list (blanks dropped)."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


def _type_urls(raw: str) -> tuple[tuple[str, str], ...]:
    """``Patient=http://...,Observation=http://...`` -> ((type, url), ...); a malformed item stops start-up."""
    pairs = []
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        rtype, sep, url = item.partition("=")
        if not sep or not rtype.strip() or not url.strip():
            raise ValueError(f"FHIR_REQUIRED_PROFILES: {item!r} is not TYPE=PROFILE-URL")
        pairs.append((rtype.strip(), url.strip()))
    return tuple(pairs)


PRESCRIBER_CHECKS = ("users", "all", "off")


def _prescriber_check(raw: str) -> str:
    if raw not in PRESCRIBER_CHECKS:
        raise ValueError(f"FHIR_PRESCRIBER_CHECK: {raw!r} is not one of {', '.join(PRESCRIBER_CHECKS)}")
    return raw


def _env_codes(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated setting; unset keeps the default, an empty value means none."""
    if name not in env:
        return default
    return tuple(part.strip() for part in env[name].split(",") if part.strip())


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
        search_max_params=_env_int("FHIR_SEARCH_MAX_PARAMS", 30),
        search_max_values=_env_int("FHIR_SEARCH_MAX_VALUES", 100),
        search_max_repeats=_env_int("FHIR_SEARCH_MAX_REPEATS", 10),
        search_max_chain_depth=_env_int("FHIR_SEARCH_MAX_CHAIN_DEPTH", 4),
        search_max_includes=_env_int("FHIR_SEARCH_MAX_INCLUDES", 10),
        search_max_include_rounds=_env_int("FHIR_SEARCH_MAX_INCLUDE_ROUNDS", 4),
        search_max_sort_keys=_env_int("FHIR_SEARCH_MAX_SORT_KEYS", 8),
        search_max_query_bytes=_env_int("FHIR_SEARCH_MAX_QUERY_BYTES", 8192),
        search_max_form_bytes=_env_int("FHIR_SEARCH_MAX_FORM_BYTES", 65536),
        search_max_typed_criteria=_env_int("FHIR_SEARCH_MAX_TYPED_CRITERIA", 500),
        search_max_terms=_env_int("FHIR_SEARCH_MAX_TERMS", 10000),
        statement_timeout=_env_float("FHIR_STATEMENT_TIMEOUT", 30.0),
        idle_in_transaction_timeout=_env_float("FHIR_IDLE_IN_TRANSACTION_TIMEOUT", 60.0),
        export_statement_timeout=_env_float("FHIR_EXPORT_STATEMENT_TIMEOUT", 3600.0),
        pool_timeout=_env_float("FHIR_POOL_TIMEOUT", 5.0),
        shutdown_grace=_env_float("FHIR_SHUTDOWN_GRACE", 10.0),
        auth=env.get("FHIR_AUTH", "on").lower(),
        log_level=env.get("FHIR_LOG_LEVEL", "info"),
        demo=bool(env.get("FHIR_DEMO")),
        rule_modules=_env_list("FHIR_RULE_MODULES"),
        key_passphrase=env.get("FHIR_KEY_PASSPHRASE") or None,
        profiles_dir=Path(env.get("FHIR_PROFILES_DIR", "profiles")),
        profiles_strict=bool(env.get("FHIR_PROFILES_STRICT")),
        required_profiles=_type_urls(env.get("FHIR_REQUIRED_PROFILES", "")),
        reject_unknown_profiles=env.get("FHIR_UNKNOWN_PROFILES", "warn").lower() == "reject",
        audit_key=env.get("FHIR_AUDIT_KEY") or None,
        audit_key_file=Path(env["FHIR_AUDIT_KEY_FILE"]) if env.get("FHIR_AUDIT_KEY_FILE") else None,
        audit_checkpoint_dir=Path(env["FHIR_AUDIT_CHECKPOINT_DIR"]) if env.get("FHIR_AUDIT_CHECKPOINT_DIR") else None,
        audit_checkpoint_seconds=_env_int("FHIR_AUDIT_CHECKPOINT_SECONDS", 3600),
        login_max_failures=_env_int("FHIR_LOGIN_MAX_FAILURES", 5),
        login_address_max_failures=_env_int("FHIR_LOGIN_ADDRESS_MAX_FAILURES", 50),
        login_window_seconds=_env_int("FHIR_LOGIN_WINDOW_SECONDS", 900),
        login_lockout_failures=_env_int("FHIR_LOGIN_LOCKOUT_FAILURES", 20),
        login_failure_delay=float(env.get("FHIR_LOGIN_FAILURE_DELAY") or 1.0),
        terminology_dir=Path(env.get("FHIR_TERMINOLOGY_DIR", "terminology")),
        terminology_strict=bool(env.get("FHIR_TERMINOLOGY_STRICT")),
        max_expansion=_env_int("FHIR_MAX_EXPANSION", 10_000),
        timezone=env.get("FHIR_TIMEZONE") or "UTC",
        hold_minutes=_env_int("FHIR_HOLD_MINUTES", 10),
        idempotency_hours=max(24, _env_int("FHIR_IDEMPOTENCY_HOURS", 24)),
        hospital_name=env.get("FHIR_HOSPITAL_NAME") or "General Hospital",
        hospital_logo=Path(env["FHIR_HOSPITAL_LOGO"]) if env.get("FHIR_HOSPITAL_LOGO") else None,
        prescriber_check=_prescriber_check(env.get("FHIR_PRESCRIBER_CHECK") or "users"),
        prescriber_roles=_env_list("FHIR_PRESCRIBER_ROLES") or Settings.prescriber_roles,
        summary_section_limit=max(1, _env_int("FHIR_SUMMARY_SECTION_LIMIT", 50)),
        claims_adjudicated_insurers=_env_codes(env, "FHIR_CLAIMS_ADJUDICATED_INSURERS",
                                                Settings.claims_adjudicated_insurers),
        claims_preauth_codes=_env_codes(env, "FHIR_CLAIMS_PREAUTH_CODES", Settings.claims_preauth_codes),
        claims_review_codes=_env_codes(env, "FHIR_CLAIMS_REVIEW_CODES", Settings.claims_review_codes),
        claims_currency=env.get("FHIR_CLAIMS_CURRENCY") or "USD",
        register_max_per_address=_env_int("FHIR_REGISTER_MAX_PER_ADDRESS", 10),
        register_window_seconds=_env_int("FHIR_REGISTER_WINDOW_SECONDS", 3600),
        register_verify_seconds=_env_int("FHIR_REGISTER_VERIFY_SECONDS", 86400),
        stripe_api_key=env.get("FHIR_STRIPE_API_KEY") or None,
        stripe_webhook_secret=env.get("FHIR_STRIPE_WEBHOOK_SECRET") or None,
        stripe_api_base=(env.get("FHIR_STRIPE_API_BASE") or "https://api.stripe.com").rstrip("/"),
        subscription_timeout=_env_float("FHIR_SUBSCRIPTION_TIMEOUT", 5.0),
        subscription_max_failures=max(1, _env_int("FHIR_SUBSCRIPTION_MAX_FAILURES", 5)),
        subscription_retry_base=_env_float("FHIR_SUBSCRIPTION_RETRY_BASE", 1.0),
        subscription_retry_max=_env_float("FHIR_SUBSCRIPTION_RETRY_MAX", 300.0),
        subscription_poll=_env_float("FHIR_SUBSCRIPTION_POLL", 1.0),
        subscription_allow_private=bool(env.get("FHIR_SUBSCRIPTION_ALLOW_PRIVATE")),
        subscription_workers=env.get("FHIR_SUBSCRIPTION_WORKERS", "1") != "0",
        smtp_url=env.get("FHIR_SMTP_URL") or None,
        smtp_from=env.get("FHIR_SMTP_FROM") or "fhir-server@localhost",
        twilio_url=env.get("FHIR_TWILIO_URL") or "https://api.twilio.com",
        twilio_account_sid=env.get("FHIR_TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("FHIR_TWILIO_AUTH_TOKEN") or None,
        sms_from=env.get("FHIR_SMS_FROM") or None,
    )
