"""``fhir-server client|user|launch|keys`` administration commands, and the demo SMART app.

Scriptable: every ``add`` takes ``--json`` and prints one JSON object. Client metadata
follows SMART App Launch client registration
(https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#registering-a-client-communicating-public-keys);
``launch add`` is the EHR side of an EHR launch
(https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from ..config import load_settings
from ..db import Database, migrate
from . import keys as key_admin
from . import roles, storage, throttle
from .registration import Registration, RegistrationError, read_registration
from .scopes import IDENTITY_SCOPES, parse_scope

__all__ = ["add_commands", "demo_setup", "DEMO_CLIENT_ID"]

FHIR_USER = re.compile(r"^(Practitioner|Patient|RelatedPerson)/[A-Za-z0-9.-]{1,64}$")
RESOURCE_ID = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
DEMO_CLIENT_ID = "demo-app"
DEMO_SCOPE = "launch launch/patient openid fhirUser offline_access patient/*.rs user/*.rs"
DEMO_REDIRECTS = ["http://127.0.0.1:9090/callback", "http://localhost:9090/callback"]
DEMO_USERS = [("dr.demo", "Practitioner/demo-practitioner"), ("amy", "Patient/demo-patient")]
# Staff accounts with roles (fhir_server/accounts/): the nurse of the demo hospital and its
# administrator (Practitioner/demo-admin is written by fhir_server/accounts/demo.py).
DEMO_STAFF: list[tuple[str, str, tuple[str, ...]]] = [("nurse.demo", "Practitioner/demo-nurse", ("nurse",)),
                                                     ("admin.demo", "Practitioner/demo-admin", ("admin",))]
DEMO_PASSWORD = "demo-password"  # noqa: S105 - documented demo credential, demo mode only


MIN_PASSWORD = 8


class UsageError(Exception):
    """Bad input (exit status 2): the message says what to change."""


def _check_scope(scope: str) -> str:
    items = scope.split()
    bad = [s for s in items if s not in IDENTITY_SCOPES and parse_scope(s) is None]
    if not items or bad:
        raise UsageError(f"invalid scope(s): {' '.join(bad) or '(empty)'}")
    return " ".join(items)


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.fragment or not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise UsageError(f"{what} must be an absolute https URL (http only on loopback), without fragment: {url}")
    return url


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        jwks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read JWKS file {path}: {exc}") from exc
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise UsageError("the JWKS file must be a JWK Set: {\"keys\": [...]}")
    if any(isinstance(k, dict) and "d" in k for k in jwks["keys"]):
        raise UsageError("the JWKS file holds a private key: register the public keys only")
    return jwks


def _registration_from_flags(args: argparse.Namespace) -> Registration:
    if not args.name or not args.scope or not (args.public or args.secret or args.jwks_file or args.jwks_url):
        raise UsageError("client add needs --name, --scope and one of --public, --secret, --jwks-file, "
                         "--jwks-url (or a registration document: --from-file)")
    method = "none" if args.public else "client_secret" if args.secret else "private_key_jwt"
    jwks = _read_jwks(Path(args.jwks_file)) if args.jwks_file else None
    return Registration(name=args.name, auth_method=method, scope=args.scope, redirect_uris=args.redirect_uri or [],
                        jwks=jwks, jwks_url=args.jwks_url, client_id=args.client_id)


def _registration(args: argparse.Namespace) -> Registration:
    if not args.from_file:
        return _registration_from_flags(args)
    if args.name or args.scope or args.redirect_uri or args.public or args.secret or args.jwks_file or args.jwks_url:
        raise UsageError("--from-file takes the whole registration from the file: give only --client-id beside it")
    try:
        registration = read_registration(Path(args.from_file))
    except RegistrationError as exc:
        raise UsageError(str(exc)) from exc
    if registration.jwks is not None and any("d" in k for k in registration.jwks["keys"]):
        raise UsageError("jwks holds a private key: register the public keys only")
    return replace(registration, client_id=args.client_id or registration.client_id)


async def _client_add(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    reg = _registration(args)
    redirects = [_check_url(u, "redirect URI") for u in reg.redirect_uris]
    if reg.auth_method != "private_key_jwt" and not redirects:
        raise UsageError("public and secret clients need at least one --redirect-uri")
    jwks_url = _check_url(reg.jwks_url, "JWKS URL") if reg.jwks_url else None
    client_id, secret = await storage.create_client(
        db, name=reg.name, auth_method=reg.auth_method, scope=_check_scope(reg.scope), redirect_uris=redirects,
        jwks=reg.jwks, jwks_url=jwks_url, client_id=reg.client_id)
    out: dict[str, Any] = {"client_id": client_id}
    if secret:
        out["client_secret"] = secret
    return out


async def _client_list(db: Database, args: argparse.Namespace) -> list[dict[str, Any]]:
    return [{"client_id": c.client_id, "name": c.name, "auth_method": c.auth_method, "scope": c.scope,
             "redirect_uris": list(c.redirect_uris), "jwks_url": c.jwks_url}
            for c in await storage.list_clients(db)]


def _password(args: argparse.Namespace) -> str:
    """--password, else one line of stdin (--password-stdin), else a prompt on a terminal."""
    if args.password is not None:
        password = str(args.password)
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("password again: ") != password:
            raise UsageError("the passwords differ")
    else:
        raise UsageError("no password: give --password-stdin (or run on a terminal to be asked)")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


async def _check_exists(db: Database, reference: str, what: str) -> None:
    rtype, rid = reference.split("/", 1)
    if not await storage.resource_exists(db, rtype, rid):
        raise UsageError(f"{what} {reference} does not exist on this server: load or create it first "
                         "(or pass --allow-missing)")


async def _user_add(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    if not FHIR_USER.match(args.fhir_user):
        raise UsageError("--fhir-user must be Practitioner/ID, Patient/ID or RelatedPerson/ID")
    password = _password(args)
    if not args.allow_missing:
        await _check_exists(db, args.fhir_user, "--fhir-user")
    role_names = sorted(set(args.role or []))
    await _check_roles(db, role_names)
    await storage.create_user(db, args.username, password, args.fhir_user, role_names)
    out: dict[str, Any] = {"username": args.username, "fhir_user": args.fhir_user}
    return {**out, "roles": role_names} if role_names else out


async def _check_roles(db: Database, names: list[str]) -> None:
    known = await roles.known_roles(db)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UsageError(f"unknown role(s) {', '.join(unknown)}; the roles are {', '.join(known)}")


async def _user_roles(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    """``user roles NAME [--add R] [--remove R]``: change, then show, the user's roles."""
    if await storage.get_user(db, args.username) is None:
        raise UsageError("no such user")
    await _check_roles(db, (args.add or []) + (args.remove or []))
    held = await roles.set_roles(db, args.username, args.add or [], args.remove or [])
    return {"username": args.username, "roles": held}


async def _user_list(db: Database, args: argparse.Namespace) -> list[dict[str, Any]]:
    return [{"username": u.username, "fhir_user": u.fhir_user} for u in await storage.list_users(db)]


async def _user_unlock(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    """Lift a sign-in lockout (smart_auth/throttle.py) and clear the account's failure counters."""
    if await storage.get_user(db, args.username) is None:
        raise UsageError("no such user")
    return {"username": args.username, "was_locked": await throttle.unlock(db, args.username)}


async def _launch_add(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    for value, what in ((args.patient, "--patient"), (args.encounter, "--encounter")):
        if value is not None and not RESOURCE_ID.match(value):
            raise UsageError(f"{what} must be a resource id")
    if args.fhir_user is not None and not FHIR_USER.match(args.fhir_user):
        raise UsageError("--fhir-user must be Practitioner/ID, Patient/ID or RelatedPerson/ID")
    if not args.allow_missing:
        for reference, what in ((f"Patient/{args.patient}", "--patient"),
                                (args.encounter and f"Encounter/{args.encounter}", "--encounter"),
                                (args.fhir_user, "--fhir-user")):
            if reference:
                await _check_exists(db, reference, what)
    launch = await storage.create_launch(db, args.patient, args.encounter, args.fhir_user, args.expires_in)
    return {"launch": launch}


async def _removed(db: Database, ok: Awaitable[bool], what: str) -> dict[str, Any]:
    if not await ok:
        raise UsageError(f"no such {what}")
    return {"removed": True}


def _print(result: Any, as_json: bool) -> None:
    if as_json or not isinstance(result, list):
        print(json.dumps(result, indent=None if as_json else 2))
        return
    for row in result:
        print("  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, [], "")))


def _runner(resolve_url: Callable[[argparse.Namespace], str],
            action: Callable[[Database, argparse.Namespace], Awaitable[Any]]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        url = resolve_url(args)
        migrate(url)

        async def go() -> Any:
            db = Database(url, 1, 2)
            await db.open()
            try:
                return await action(db, args)
            finally:
                await db.close()

        try:
            result = asyncio.run(go())
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except psycopg.errors.UniqueViolation as exc:
            print(f"error: already exists ({exc.diag.message_detail or exc.diag.message_primary})",
                  file=sys.stderr)
            return 2
        _print(result, bool(getattr(args, "json", False)))
        return 0

    return run


def _client_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None], run: Callable[..., Any]) -> None:
    client = sub.add_parser("client", help="register and manage SMART client applications")
    actions = client.add_subparsers(dest="client_command", required=True)
    add = actions.add_parser("add", help="register a client")
    add.add_argument("--from-file", help="an RFC 7591 registration document (JSON: client_name, redirect_uris, "
                     "scope, token_endpoint_auth_method, jwks or jwks_uri) instead of the flags below")
    add.add_argument("--name")
    add.add_argument("--redirect-uri", action="append", help="exact redirect URI (repeatable)")
    kind = add.add_mutually_exclusive_group()
    kind.add_argument("--public", action="store_true", help="public client (no secret; PKCE)")
    kind.add_argument("--secret", action="store_true", help="confidential client with a generated secret")
    kind.add_argument("--jwks-file", help="confidential asymmetric client: its public JWK Set file")
    kind.add_argument("--jwks-url", help="confidential asymmetric client: URL of its public JWK Set")
    add.add_argument("--scope", help='allowed scopes, e.g. "launch openid fhirUser patient/*.rs"')
    add.add_argument("--client-id", help="choose the client_id (default: random)")
    add.add_argument("--json", action="store_true", help='print {"client_id": ..., "client_secret": ...}')
    list_ = actions.add_parser("list", help="list clients")
    list_.add_argument("--json", action="store_true")
    remove = actions.add_parser("remove", help="delete a client and revoke all its tokens")
    remove.add_argument("client_id")
    for parser, action in ((add, _client_add), (list_, _client_list),
                           (remove, lambda db, a: _removed(db, storage.remove_client(db, a.client_id), "client"))):
        common(parser)
        parser.set_defaults(handler=run(action))


def _user_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None], run: Callable[..., Any]) -> Any:
    user = sub.add_parser("user", help="manage users who sign in to authorize apps")
    actions = user.add_subparsers(dest="user_command", required=True)
    add = actions.add_parser("add", help="add a user linked to a FHIR resource")
    add.add_argument("--username", required=True)
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    secret.add_argument("--password", help="the password as an argument (visible in shell history and ps: "
                        "prefer --password-stdin, or no option on a terminal to be asked)")
    add.add_argument("--fhir-user", required=True, help="Practitioner/ID, Patient/ID or RelatedPerson/ID "
                     "(must exist on this server)")
    add.add_argument("--allow-missing", action="store_true", help="link a --fhir-user that is not loaded yet")
    add.add_argument("--role", action="append", help="admin, doctor, nurse, staff, billing or patient (repeatable;"
                     " the roles cap the scopes the user may be granted; none: not capped)")
    add.add_argument("--json", action="store_true")
    roles_ = actions.add_parser("roles", help="show a user's roles, or change them (removing one revokes "
                                "their tokens)")
    roles_.add_argument("username")
    roles_.add_argument("--add", action="append", help="a role to add (repeatable)")
    roles_.add_argument("--remove", action="append", help="a role to remove (repeatable)")
    roles_.add_argument("--json", action="store_true")
    list_ = actions.add_parser("list", help="list users")
    list_.add_argument("--json", action="store_true")
    remove = actions.add_parser("remove", help="delete a user and revoke their grants")
    remove.add_argument("username")
    unlock = actions.add_parser("unlock", help="lift the lockout after repeated failed sign-ins")
    unlock.add_argument("username")
    unlock.add_argument("--json", action="store_true")
    for parser, action in ((add, _user_add), (list_, _user_list), (unlock, _user_unlock), (roles_, _user_roles),
                           (remove, lambda db, a: _removed(db, storage.remove_user(db, a.username), "user"))):
        common(parser)
        parser.set_defaults(handler=run(action))
    return actions


def _launch_and_key_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None],
                             run: Callable[..., Any]) -> None:
    launch = sub.add_parser("launch", help="EHR launch contexts")
    launch_actions = launch.add_subparsers(dest="launch_command", required=True)
    add = launch_actions.add_parser("add", help='create a launch context; prints {"launch": ...}')
    add.add_argument("--patient", required=True, help="id of a Patient on this server")
    add.add_argument("--encounter", help="id of an Encounter on this server")
    add.add_argument("--fhir-user", help="only this user may use the launch (e.g. Practitioner/ID)")
    add.add_argument("--allow-missing", action="store_true", help="do not check that the resources exist")
    add.add_argument("--expires-in", type=int, default=3600, help="seconds (default 3600)")
    add.add_argument("--json", action="store_true")
    common(add)
    add.set_defaults(handler=run(_launch_add))
    keys = sub.add_parser("keys", help="token signing keys (per database)")
    key_actions = keys.add_subparsers(dest="keys_command", required=True)
    list_ = key_actions.add_parser("list", help="list signing keys")
    rotate = key_actions.add_parser("rotate", help="add a new signing key; old keys keep verifying")
    retire = key_actions.add_parser("retire", help="stop trusting a key (tokens it signed stop working)")
    retire.add_argument("kid", help="as 'keys list' shows it (write -- before a kid that starts with '-')")
    for parser, action in (
            (list_, lambda db, a: key_admin.list_keys(db)),
            (rotate, lambda db, a: _as_dict("kid", key_admin.rotate_key(db, load_settings().key_passphrase))),
            (retire, lambda db, a: _removed(db, key_admin.retire_key(db, a.kid), "active key"))):
        parser.add_argument("--json", action="store_true")
        common(parser)
        parser.set_defaults(handler=run(action))


async def _as_dict(name: str, value: Awaitable[Any]) -> dict[str, Any]:
    return {name: await value}


def add_commands(subparsers: Any, add_database_options: Callable[[argparse.ArgumentParser], None],
                 resolve_url: Callable[[argparse.Namespace], str]) -> Any:
    """Register ``client``, ``user``, ``launch`` and ``keys`` on the ``fhir-server`` parser; returns the
    ``user`` subcommands (``accounts/cli.py`` adds ``deactivate`` and ``activate``)."""
    def run(action: Callable[[Database, argparse.Namespace], Awaitable[Any]]) -> Callable[[argparse.Namespace], int]:
        return _runner(resolve_url, action)

    _client_commands(subparsers, add_database_options, run)
    user_actions = _user_commands(subparsers, add_database_options, run)
    _launch_and_key_commands(subparsers, add_database_options, run)
    return user_actions


async def demo_setup(db: Database) -> None:
    """The demo SMART app and users (idempotent: existing rows, even edited ones, are kept)."""
    if await storage.get_client(db, DEMO_CLIENT_ID) is None:
        try:
            await storage.create_client(db, name="Demo SMART app", auth_method="none", scope=DEMO_SCOPE,
                                        redirect_uris=DEMO_REDIRECTS, client_id=DEMO_CLIENT_ID)
        except psycopg.errors.UniqueViolation:
            pass  # another worker created it first
    users: list[tuple[str, str, tuple[str, ...]]] = [(name, ref, ()) for name, ref in DEMO_USERS] + DEMO_STAFF
    for username, fhir_user, held in users:
        if await storage.get_user(db, username) is None:
            try:
                await storage.create_user(db, username, DEMO_PASSWORD, fhir_user, held)
            except psycopg.errors.UniqueViolation:
                pass
