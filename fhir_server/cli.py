"""``fhir-server`` console entry point: serve (and, as their issues land, load, reindex,
client, user, audit). Database options are shared by every subcommand."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import smart_auth
from .config import Settings, load_settings
from .conformance import cli as conformance_cli
from .scheduling import cli as scheduling_cli

__all__ = ["main"]


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="PostgreSQL 15+ URL (default: env FHIR_DATABASE_URL, "
                        "else the embedded PostgreSQL in --data-dir)")
    parser.add_argument("--data-dir", type=Path, help="data directory of the embedded PostgreSQL "
                        "(default: env FHIR_DATA_DIR or ./data/pg)")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings().with_overrides(
        database_url=args.database_url, data_dir=args.data_dir,
        host=getattr(args, "host", None), port=getattr(args, "port", None),
        base_url=getattr(args, "base_url", None), auth=getattr(args, "auth", None),
        demo=getattr(args, "demo", None) or None)


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from .app import create_app

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.workers > 1:
        from .embedded import resolve_database_url

        # The parent owns the embedded PostgreSQL; workers get its URL through the environment.
        url = resolve_database_url(settings.database_url, settings.data_dir)
        os.environ.update(settings.with_overrides(database_url=url).as_env())
        uvicorn.run("fhir_server.app:create_app_from_env", factory=True, workers=args.workers,
                    host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
        return 0
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, access_log=False)
    return 0


def _load_profiles(settings: Settings) -> None:
    from .conformance.startup import load_profiles

    load_profiles(settings.profiles_dir, settings.profiles_strict)


def _load(args: argparse.Namespace) -> int:
    from .embedded import resolve_database_url
    from .exchange.load_command import run_load

    settings = _settings(args)
    _load_profiles(settings)  # before the workers fork: they validate and index with the IGs too
    url = resolve_database_url(settings.database_url, settings.data_dir)
    return run_load(url, settings.public_base, args.paths, args.workers, args.force, settings.rule_modules)


def _reindex(args: argparse.Namespace) -> int:
    import asyncio

    from .db import Database, migrate
    from .embedded import resolve_database_url
    from .search.reindex import reindex

    settings = _settings(args)
    _load_profiles(settings)  # the IGs' SearchParameters are indexed too
    url = resolve_database_url(settings.database_url, settings.data_dir)
    migrate(url)

    def progress(done: int, total: int) -> None:
        width = 40
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} resources")
        sys.stderr.flush()

    async def run() -> int:
        db = Database(url, 1, 4)
        await db.open()
        try:
            return await reindex(db, args.types or None, progress)
        finally:
            await db.close()

    count = asyncio.run(run())
    sys.stderr.write("\n")
    print(f"reindexed {count:,} resources")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    """Seal pending audit rows, then walk the hash chain; exit 1 when anything is broken."""
    import asyncio

    from .audit.chain import seal_pending, verify_chain
    from .db import Database, migrate

    url = _resolve_url(args)
    migrate(url)

    async def run() -> int:
        db = Database(url, 1, 2)
        await db.open()
        try:
            while await seal_pending(db):
                pass
            report = await verify_chain(db)
        finally:
            await db.close()
        for problem in report.problems:
            print(f"PROBLEM: {problem}")
        print(f"audit chain: {report.sealed:,} sealed rows, {report.unsealed:,} unsealed, head {report.head}")
        print("OK" if report.ok else "TAMPERED")
        return 0 if report.ok else 1

    return asyncio.run(run())


def _resolve_url(args: argparse.Namespace) -> str:
    from .embedded import resolve_database_url

    settings = _settings(args)
    return resolve_database_url(settings.database_url, settings.data_dir)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhir-server", description="FHIR R4 server on PostgreSQL")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the FHIR API at http://HOST:PORT/fhir")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--base-url", help="public base URL of the API, if behind a proxy")
    serve.add_argument("--auth", choices=["on", "off"], help="'off' disables authorization (development only)")
    serve.add_argument("--demo", action="store_true", help="load the demo data set at start-up if missing")
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1; one per core is typical)")
    _add_database_options(serve)
    serve.set_defaults(handler=_serve)
    load = commands.add_parser("load", help="load bundles, resources and NDJSON files (also .gz, directories)")
    load.add_argument("paths", nargs="+", type=Path, help="files or directories")
    load.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    load.add_argument("--force", action="store_true", help="load files again even if already loaded")
    _add_database_options(load)
    load.set_defaults(handler=_load)
    reindex = commands.add_parser("reindex", help="rebuild search indexes (the server may keep running)")
    reindex.add_argument("types", nargs="*", help="resource types to reindex (default: all)")
    _add_database_options(reindex)
    reindex.set_defaults(handler=_reindex)
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="check the tamper-evident hash chain of the audit trail")
    _add_database_options(verify)
    verify.set_defaults(handler=_audit_verify)
    smart_auth.add_commands(commands, _add_database_options, _resolve_url)
    conformance_cli.add_commands(commands)
    scheduling_cli.add_commands(commands, _add_database_options, _resolve_url)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
