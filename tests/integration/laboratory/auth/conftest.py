"""Authorization on for these modules: real SMART tokens for two doctors and two patients."""

from tests.integration.laboratory.smart_fixtures import app_client, http, server_settings, server_url  # noqa: F401
