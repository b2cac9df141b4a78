"""Authorization on for these modules: the laboratory tests' SMART tokens (two doctors, two patients)."""

from tests.integration.laboratory.smart_fixtures import app_client, http, server_settings, server_url  # noqa: F401
