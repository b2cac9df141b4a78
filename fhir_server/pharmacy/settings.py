"""The pharmacy settings a rule reads (FHIR_PRESCRIBER_CHECK, FHIR_PRESCRIBER_ROLES).

Rules are not handed the settings, so ``create_app`` passes them here once; a process without an
app (``fhir-server load`` and its workers) reads the environment on first use.
"""

from __future__ import annotations

from ..config import Settings, load_settings

__all__ = ["configure", "current"]

_CURRENT: list[Settings] = []


def configure(settings: Settings) -> None:
    _CURRENT[:] = [settings]


def current() -> Settings:
    if not _CURRENT:
        _CURRENT.append(load_settings())
    return _CURRENT[0]
