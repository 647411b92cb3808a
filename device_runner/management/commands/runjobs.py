"""`manage.py runjobs`: serve the queued jobs of the devices attached to this host.

With ``--server URL`` and a runner token the host needs no database and no
shared disk: it works through the lab's runner API (``HttpQueueClient``),
fetching files by SHA-256 into its cache. Without, it works on the database
(``DirectQueueClient``), for one machine or hosts in the trusted network.

A database it cannot use (wrong ``DATABASE_URL``, server down, not migrated)
ends the command with one line naming the database and the problem; pass
``--traceback`` for the stack.
"""

from __future__ import annotations

import os
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError, OperationalError, ProgrammingError, connection

from device_runner.file_cache import FileCache
from device_runner.queue_client import QueueClient, QueueError
from device_runner.queue_client.direct import DirectQueueClient
from device_runner.queue_client.http import HttpQueueClient
from device_runner.runner import Runner, runner_identity
from device_runner.terminal import ProgressBar

TOKEN_ENV = "COMPRESSO_RUNNER_TOKEN"


class Command(BaseCommand):
    help = (
        "Claim and run measurement jobs for the devices attached to this host, on the "
        "database or, with --server and a runner token, over the API; --compress only "
        "compresses, --measure-only never does."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--device",
            action="append",
            dest="devices",
            metavar="NAME",
            help="A device this host serves (repeatable). Default: every local device "
            "(with --server: every device of the token).",
        )
        parser.add_argument("--server", help="The lab's URL: work through its runner API.")
        parser.add_argument(
            "--token", help=f"The runner token (default: the {TOKEN_ENV} environment variable)."
        )
        role = parser.add_mutually_exclusive_group()
        role.add_argument(
            "--compress", action="store_true", help="Only compress pending artifacts; no devices."
        )
        role.add_argument(
            "--measure-only",
            action="store_true",
            help="Never compress: jobs whose artifact is ready.",
        )
        parser.add_argument("--cache-dir", help="Where files fetched by SHA-256 are kept.")
        parser.add_argument("--once", action="store_true", help="Exit when the queue is empty.")
        parser.add_argument("--max-jobs", type=int, default=None, help="Exit after N jobs.")
        parser.add_argument("--poll", type=float, default=2.0, help="Seconds between polls.")

    def handle(self, *args, **options) -> None:
        try:
            self._serve(options)
        except (OperationalError, InterfaceError, ProgrammingError) as exc:
            raise CommandError(database_problem(exc)) from exc
        except QueueError as exc:
            raise CommandError(str(exc)) from exc

    def _serve(self, options: dict) -> None:
        if options["max_jobs"] is not None and options["max_jobs"] < 1:
            raise CommandError(f"--max-jobs must be at least 1. Received: {options['max_jobs']}")
        if options["poll"] <= 0:
            raise CommandError(f"--poll must be positive. Received: {options['poll']}")
        if options["compress"] and options["devices"]:
            raise CommandError("--compress serves no device; drop --device or --compress.")
        mode = (
            "compress" if options["compress"] else "measure" if options["measure_only"] else "both"
        )
        cache = FileCache(options["cache_dir"] or settings.RUNNER_CACHE_DIR)
        cache.clean(settings.RUNNER_CACHE_MAX_BYTES)
        owner = runner_identity()
        client = self._client(options, mode, cache, owner)
        devices = [] if options["compress"] else client.devices(options["devices"])
        runner = Runner(
            devices=devices,
            owner=owner,
            client=client,
            measure=mode != "compress",
            compress=mode != "measure",
            on_progress=ProgressBar(self.stderr).update,
        )
        signal.signal(signal.SIGTERM, runner.request_stop)
        signal.signal(signal.SIGINT, runner.request_stop)
        names = ", ".join(d.name for d in devices) or "no device"
        self.stdout.write(f"runjobs {owner} ({mode}): serving {names}")
        done = runner.run(max_jobs=options["max_jobs"], once=options["once"], poll=options["poll"])
        self.stdout.write(f"runjobs: {done} job(s) run; stopping.")
        if runner.refusal:
            raise CommandError(runner.refusal)

    def _client(self, options: dict, mode: str, cache: FileCache, owner: str) -> QueueClient:
        token = options["token"] or os.environ.get(TOKEN_ENV, "")
        if not options["server"]:
            if options["token"]:
                raise CommandError("--token needs --server (the lab's URL).")
            return DirectQueueClient(owner, cache)
        if not token:
            raise CommandError(f"--server needs a runner token: --token or {TOKEN_ENV}.")
        return HttpQueueClient(options["server"], token, cache, mode, owner)


def database_problem(exc: Exception) -> str:
    """One line naming the database (never its password) and what went wrong."""
    db = connection.settings_dict
    where = db["NAME"]
    if connection.vendor != "sqlite":
        where = f"{db['NAME']!s} at {db['HOST'] or 'localhost'}:{db['PORT'] or 'default port'}"
    # One line: psycopg adds a hint line, PostgreSQL the offending SQL after "LINE n:".
    detail = " ".join(str(exc).split("\nLINE ")[0].split())
    return (
        f"Cannot use the {connection.vendor} database {where} "
        f"(check DATABASE_URL, and that `manage.py migrate` ran): {detail}"
    )
