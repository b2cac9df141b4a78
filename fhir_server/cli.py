"""``fhir-server`` console entry point: serve, load, reindex, demo, audit, and the SMART
administration commands (client, user, launch, keys). Database options are shared by every
subcommand, and so is one convention of exit statuses (EXIT_STATUSES)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from . import smart_auth
from .accounts import cli as accounts_cli
from .billing import cli as billing_cli
from .claims import cli as claims_cli
from .config import Settings, load_settings
from .conformance import cli as conformance_cli
from .scheduling import cli as scheduling_cli

__all__ = ["main", "EXIT_STATUSES"]

EXIT_STATUSES = """exit status, for every command:
  0  done
  1  the command ran and found a problem: audit verify found the chain broken, load rejected entries
  2  usage or input error, nothing changed: a bad option or value, a duplicate (user, client),
     a reference to a resource that does not exist, an unreadable file"""


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
    from .banner import announce_when_ready, banner_lines, quiet_embedded_logs

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_embedded_logs()
    # uvicorn handles SIGTERM/SIGINT: it stops accepting, gives running requests shutdown_grace
    # seconds, cancels the rest, then runs the lifespan's shutdown (which stops PostgreSQL).
    common: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level, "access_log": False,
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_grace))}
    if args.workers > 1:
        from .embedded import Supervisor, start_supervised

        # The parent owns (and supervises) the embedded PostgreSQL; workers get its URL through
        # the environment.
        supervisor: Supervisor | None = None
        url = settings.database_url or ""
        if not url:
            url, supervisor = start_supervised(settings.data_dir)
        os.environ.update(settings.with_overrides(database_url=url).as_env())
        print("\n".join(banner_lines(settings)), flush=True)
        try:
            uvicorn.run("fhir_server.app:create_app_from_env", factory=True, workers=args.workers, **common)
        finally:
            if supervisor is not None:
                supervisor.stop()
        return 0
    app = create_app(settings)
    announce_when_ready(app, banner_lines(settings))
    uvicorn.run(app, **common)
    return 0


def _load_profiles(settings: Settings) -> None:
    from .conformance.startup import apply_write_policy, load_profiles

    load_profiles(settings.profiles_dir, settings.profiles_strict)
    apply_write_policy(settings.required_profiles, settings.reject_unknown_profiles)


def _load_terminology(settings: Settings, url: str) -> None:
    """The terminology/ folder, as the server has it (its value sets serve binding validation)."""
    import psycopg

    from .db import migrate
    from .terminology.startup import load_terminology

    migrate(url)
    with psycopg.connect(url) as conn:
        loaded = frozenset(row[0] for row in conn.execute("SELECT url FROM terminology_system"))
    load_terminology(settings.terminology_dir, settings.terminology_strict, settings.max_expansion, loaded)


def _load(args: argparse.Namespace) -> int:
    from .embedded import resolve_database_url
    from .exchange.load_command import run_load

    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        return _input_error(f"no such file or directory: {', '.join(missing)}")
    settings = _settings(args)
    _load_profiles(settings)  # before the workers fork: they validate and index with the IGs too
    url = resolve_database_url(settings.database_url, settings.data_dir)
    _load_terminology(settings, url)
    return run_load(url, settings.public_base, args.paths, args.workers, args.force, _audit_key(settings, True),
                    settings.rule_modules)


def _input_error(message: str) -> int:
    """Exit status 2 (EXIT_STATUSES): the input was wrong and nothing changed."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def _reindex(args: argparse.Namespace) -> int:
    import asyncio

    from .db import Database, migrate
    from .definitions import definitions
    from .embedded import resolve_database_url
    from .search.reindex import reindex

    unknown = [t for t in args.types if t not in definitions().resource_types]
    if unknown:
        return _input_error(f"not FHIR R4 resource types: {', '.join(unknown)}")
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


def _audit_key(settings: Settings, create: bool) -> bytes:
    from .audit.keyring import load_key

    return load_key(settings.audit_key, settings.audit_key_path, create)


def _audit_verify(args: argparse.Namespace) -> int:
    """Seal pending audit rows, then walk the keyed chain (and check it against a checkpoint file);
    exit 1 when anything is broken."""
    import asyncio
    import json

    from .audit.chain import check_checkpoint, seal_pending, verify_chain
    from .audit.keyring import AuditKeyMissing
    from .db import Database, migrate

    try:
        key = _audit_key(_settings(args), False)
        raw = json.loads(args.checkpoint.read_text()) if args.checkpoint else None
    except (AuditKeyMissing, OSError, ValueError) as exc:
        print(f"PROBLEM: {exc}\nCANNOT VERIFY")
        return 1
    try:
        point = check_checkpoint(raw, key) if raw is not None else None
    except ValueError as exc:
        print(f"PROBLEM: {exc}\nTAMPERED")
        return 1
    url = _resolve_url(args)
    migrate(url)

    async def run() -> int:
        db = Database(url, 1, 2)
        await db.open()
        try:
            while await seal_pending(db, key):
                pass
            report = await verify_chain(db, key, point)
        finally:
            await db.close()
        for problem in report.problems:
            print(f"PROBLEM: {problem}")
        print(f"audit chain: {report.sealed:,} sealed rows ({report.legacy:,} unkeyed, from before the audit key),"
              f" {report.unsealed:,} unsealed, head {report.head}")
        if point is not None:
            print(f"checked against the checkpoint of {point.time} ({point.chain_seq:,} rows)")
        print("OK" if report.ok else "TAMPERED")
        return 0 if report.ok else 1

    return asyncio.run(run())


def _audit_checkpoint(args: argparse.Namespace) -> int:
    """Seal pending rows and write a signed checkpoint (chain length, head, time) to --out."""
    import asyncio
    import json

    from .audit.chain import make_checkpoint
    from .audit.keyring import AuditKeyMissing
    from .db import Database, migrate

    try:
        key = _audit_key(_settings(args), False)
    except (AuditKeyMissing, OSError, ValueError) as exc:
        print(f"PROBLEM: {exc}")
        return 1
    url = _resolve_url(args)
    migrate(url)

    async def run() -> dict[str, object]:
        db = Database(url, 1, 2)
        await db.open()
        try:
            return await make_checkpoint(db, key)
        finally:
            await db.close()

    point = asyncio.run(run())
    try:
        args.out.write_text(json.dumps(point, indent=1) + "\n")
    except OSError as exc:
        print(f"PROBLEM: cannot write {args.out}: {exc.strerror}")
        return 1
    print(f"checkpoint: {point['chain_seq']:,} rows, head {point['head']}, written to {args.out}")
    return 0


def _demo_load(args: argparse.Namespace) -> int:
    from .demo.command import run_demo_load

    return run_demo_load(_resolve_url(args), not args.no_users)


def _demo_bundle(args: argparse.Namespace) -> int:
    from .demo.command import write_demo_bundle

    return write_demo_bundle(args.file)


def _demo_commands(commands: Any) -> None:
    demo = commands.add_parser("demo", help="the demo data set (a small hospital, ten patients)")
    actions = demo.add_subparsers(dest="demo_command", required=True)
    load = actions.add_parser("load", help="write the demo resources that are missing, and the demo users and app")
    load.add_argument("--no-users", action="store_true", help="only the FHIR resources, no demo users or app")
    _add_database_options(load)
    load.set_defaults(handler=_demo_load)
    bundle = actions.add_parser("bundle", help="write the demo data as a transaction Bundle (for 'load')")
    bundle.add_argument("file", help="output file ('-' for stdout)")
    bundle.set_defaults(handler=_demo_bundle)


def _resolve_url(args: argparse.Namespace) -> str:
    from .embedded import resolve_database_url

    settings = _settings(args)
    return resolve_database_url(settings.database_url, settings.data_dir)


def _terminology_load(args: argparse.Namespace) -> int:
    """Load a large code system (CSV or FHIR CodeSystem JSON) into PostgreSQL; exit 2 if it cannot be."""
    from .db import migrate
    from .terminology.loadfile import LoadError, load_file

    url = _resolve_url(args)
    migrate(url)
    try:
        loaded = load_file(url, args.file, args.url, args.version, args.name)
    except LoadError as exc:
        print(f"error: {exc}")
        return 2
    print(f"loaded {loaded.concepts:,} concepts of {loaded.url}" + (f" version {loaded.version}" if loaded.version
                                                                     else ""))
    print("Running servers see it in search :below/:above after their next terminology operation or restart.")
    return 0


def _add_terminology_commands(commands: Any) -> None:
    terminology = commands.add_parser("terminology", help="large code systems held in PostgreSQL")
    sub = terminology.add_subparsers(dest="terminology_command", required=True)
    load = sub.add_parser("load", help="load a code system from CSV (code,display,parents,...) or CodeSystem JSON")
    load.add_argument("file", type=Path, help="a .csv file or a FHIR CodeSystem .json file")
    load.add_argument("--url", help="the code system's canonical url (required for CSV)")
    load.add_argument("--version", help="the code system version")
    load.add_argument("--name", help="the code system name (CSV)")
    _add_database_options(load)
    load.set_defaults(handler=_terminology_load)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhir-server", description="FHIR R4 server on PostgreSQL",
                                     epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    verify = audit.add_parser("verify", help="check the keyed hash chain of the audit trail")
    verify.add_argument("--checkpoint", type=Path, help="a file from 'audit checkpoint': also fail when rows it"
                        " covers were removed or the chain was recomputed")
    _add_database_options(verify)
    verify.set_defaults(handler=_audit_verify)
    checkpoint = audit.add_parser("checkpoint", help="write a signed checkpoint of the chain (keep it elsewhere)")
    checkpoint.add_argument("--out", type=Path, required=True, help="file to write")
    _add_database_options(checkpoint)
    checkpoint.set_defaults(handler=_audit_checkpoint)
    _demo_commands(commands)
    user_actions = smart_auth.add_commands(commands, _add_database_options, _resolve_url)
    accounts_cli.add_commands(user_actions, _add_database_options, _resolve_url)
    conformance_cli.add_commands(commands)
    _add_terminology_commands(commands)
    scheduling_cli.add_commands(commands, _add_database_options, _resolve_url)
    claims_cli.add_commands(commands, _add_database_options, _resolve_url)
    billing_cli.add_commands(commands, _add_database_options, _resolve_url)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:  # Ctrl-C (uvicorn re-raises SIGINT after its clean shutdown): no traceback
        return 130


if __name__ == "__main__":
    sys.exit(main())
