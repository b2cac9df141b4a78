"""Signing keys encrypted at rest with FHIR_KEY_PASSPHRASE (Settings.key_passphrase): what is stored
is an encrypted PKCS#8 PEM, tokens still sign and verify, and the key is useless without the passphrase."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.config import Settings
from fhir_server.db import Database
from fhir_server.smart_auth.keys import KeyStore

from .helpers import cli_json, token_for

REDIRECT = "https://app.example.org/callback"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def server_settings(server_settings: Settings) -> Settings:  # the conftest fixture, plus a passphrase
    return replace(server_settings, key_passphrase=PASSPHRASE)


def test_keys_are_stored_encrypted_and_still_sign(database_url: str, server_url: str, root_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        pems = [row[0] for row in conn.execute("SELECT private_pem FROM smart_signing_key").fetchall()]
    assert pems and all(p.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----") for p in pems)
    client = cli_json(database_url, "client", "add", "--name", "Key app", "--public", "--redirect-uri", REDIRECT,
                      "--scope", "openid fhirUser user/*.rs")["client_id"]
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "keys", "--password", "pw-keys-123",
             "--fhir-user", "Practitioner/keys")
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        token = token_for(browser, root_url, server_url, client, "openid fhirUser user/*.rs", "keys", "pw-keys-123")
        assert browser.get(f"{server_url}/Patient", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("passphrase", [None, "wrong passphrase"])
def test_the_stored_keys_need_the_passphrase(database_url: str, server_url: str, passphrase: Any) -> None:
    async def load() -> None:
        db = Database(database_url, 1, 1)
        await db.open()
        try:
            await KeyStore(passphrase).load(db)
        finally:
            await db.close()

    with pytest.raises(RuntimeError, match="FHIR_KEY_PASSPHRASE"):
        asyncio.run(load())
