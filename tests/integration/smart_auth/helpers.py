"""Test helpers: the CLI in-process, PKCE, the browser side of the code flow, JWT checks."""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from fhir_server.smart_auth.cli import add_commands

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def cli(database_url: str, *argv: str) -> tuple[int, str]:
    """Run ``fhir-server <argv>`` (the smart_auth subcommands) against ``database_url``. Users and
    launches made here may name resources the test has not written (``--allow-missing``)."""
    if argv[:2] in (("user", "add"), ("launch", "add")) and "--allow-missing" not in argv:
        argv = (*argv, "--allow-missing")
    parser = argparse.ArgumentParser(prog="fhir-server")
    sub = parser.add_subparsers(dest="command", required=True)

    def database_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database-url")

    add_commands(sub, database_options, lambda args: database_url)
    args = parser.parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.handler(args)
    return code, out.getvalue()


def cli_json(database_url: str, *argv: str) -> Any:
    code, out = cli(database_url, *argv, "--json")
    assert code == 0, out
    return json.loads(out)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in page"
    return match.group(1)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Flow:
    """One run of the browser side of an authorization code flow."""

    http: httpx.Client
    root: str
    base: str
    client_id: str
    redirect_uri: str
    scope: str
    launch: str | None = None
    verifier: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        self.verifier, challenge = pkce()
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": self.scope, "state": self.state, "aud": self.base, "code_challenge": challenge,
                  "code_challenge_method": "S256"}
        if self.launch:
            params["launch"] = self.launch
        if self.nonce:
            params["nonce"] = self.nonce
        params.update(self.extra)
        return {k: v for k, v in params.items() if v is not None}

    def authorize(self, method: str = "GET") -> httpx.Response:
        url = f"{self.root}/auth/authorize"
        if method == "POST":
            return self.http.post(url, data=self.params())
        return self.http.get(url, params=self.params())

    def login(self, response: httpx.Response, username: str, password: str) -> httpx.Response:
        assert response.status_code == 303, response.text
        page = self.http.get(response.headers["location"])
        assert page.status_code == 200, page.text
        return self.http.post(f"{self.root}/auth/login", data={
            "req": hidden(page.text, "req"), "csrf": hidden(page.text, "csrf"),
            "username": username, "password": password})

    def pick_patient(self, response: httpx.Response, patient: str) -> httpx.Response:
        assert response.status_code == 303 and "/auth/patient" in response.headers["location"], response.text
        page = self.http.get(response.headers["location"])
        assert page.status_code == 200
        return self.http.post(f"{self.root}/auth/patient", data={
            "req": hidden(page.text, "req"), "csrf": hidden(page.text, "csrf"), "patient": patient})

    def consent(self, response: httpx.Response, untick: tuple[str, ...] = (),
                decision: str = "allow") -> httpx.Response:
        assert response.status_code == 303 and "/auth/consent" in response.headers["location"], response.text
        page = self.http.get(response.headers["location"])
        assert page.status_code == 200, page.text
        scopes = [s for s in re.findall(r'name="scope" value="([^"]*)"', page.text) if s not in untick]
        data: dict[str, Any] = {"req": hidden(page.text, "req"), "csrf": hidden(page.text, "csrf"),
                                "decision": decision, "scope": scopes}
        return self.http.post(f"{self.root}/auth/consent", data=data)

    def code(self, username: str, password: str, patient: str | None = None,
             untick: tuple[str, ...] = ()) -> str:
        response = self.login(self.authorize(), username, password)
        if patient:
            response = self.pick_patient(response, patient)
        response = self.consent(response, untick)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(self.redirect_uri + "?"), location
        args = query(location)
        assert args["state"] == self.state
        return args["code"]

    def exchange(self, code: str, **extra: Any) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "client_id": self.client_id, "code_verifier": self.verifier}
        data.update(extra)
        return self.http.post(f"{self.root}/auth/token", data={k: v for k, v in data.items() if v is not None})


def server_keys(http: httpx.Client, root: str) -> KeySet:
    return KeySet.import_key_set(http.get(f"{root}/auth/jwks").json())


def decode(token: str, keys: KeySet) -> dict[str, Any]:
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def client_assertion(key: RSAKey | ECKey, alg: str, client_id: str, aud: str, *, exp_in: int = 240,
                     jti: str | None = None, kid: str | None = None, header: dict[str, Any] | None = None) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "iat": now,
              "jti": jti or str(uuid.uuid4())}
    head = {"alg": alg, "typ": "JWT", "kid": kid or key.kid, **(header or {})}
    return jwt.encode(head, claims, key, algorithms=[alg])


def new_key(alg: str) -> RSAKey | ECKey:
    key: RSAKey | ECKey
    key = RSAKey.generate_key(2048, private=True) if alg.startswith("RS") else ECKey.generate_key("P-384")
    key.ensure_kid()
    return key


def public_jwks(*keys: RSAKey | ECKey, alg: str | None = None) -> dict[str, Any]:
    out = []
    for key in keys:
        data = key.as_dict(private=False)
        data["kid"] = key.kid
        if alg:
            data["alg"] = alg
        out.append(data)
    return {"keys": out}


def token_for(browser: httpx.Client, root: str, base: str, client_id: str, scope: str, username: str,
              password: str, launch: str | None = None, redirect_uri: str = "https://app.example.org/callback") -> str:
    """An access token from a full authorization code flow (login, consent, code exchange)."""
    flow = Flow(browser, root, base, client_id, redirect_uri, scope, launch=launch)
    response = flow.exchange(flow.code(username, password))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
