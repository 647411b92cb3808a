"""`manage.py runjobs`: serve the queued jobs of the devices attached to this host.

A database it cannot use (wrong ``DATABASE_URL``, server down, not migrated)
ends the command with one line naming the database and the problem; pass
``--traceback`` for the stack.
"""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError, OperationalError, ProgrammingError, connection

from device_runner.runner import Runner
from device_runner.terminal import ProgressBar
from measurements.models import Device


class Command(BaseCommand):
    help = "Claim and run measurement jobs for the devices attached to this host."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--device",
            action="append",
            dest="devices",
            metavar="NAME",
            help="A device this host serves (repeatable). Default: every local device.",
        )
        parser.add_argument("--once", action="store_true", help="Exit when the queue is empty.")
        parser.add_argument("--max-jobs", type=int, default=None, help="Exit after N jobs.")
        parser.add_argument("--poll", type=float, default=2.0, help="Seconds between polls.")

    def handle(self, *args, **options) -> None:
        try:
            self._serve(options)
        except (OperationalError, InterfaceError, ProgrammingError) as exc:
            raise CommandError(database_problem(exc)) from exc

    def _serve(self, options: dict) -> None:
        if options["max_jobs"] is not None and options["max_jobs"] < 1:
            raise CommandError(f"--max-jobs must be at least 1. Received: {options['max_jobs']}")
        if options["poll"] <= 0:
            raise CommandError(f"--poll must be positive. Received: {options['poll']}")
        devices = self._devices(options["devices"])
        runner = Runner(devices=devices, on_progress=ProgressBar(self.stderr).update)
        signal.signal(signal.SIGTERM, runner.request_stop)
        signal.signal(signal.SIGINT, runner.request_stop)
        names = ", ".join(d.name for d in devices)
        self.stdout.write(f"runjobs {runner.owner}: serving {names}")
        done = runner.run(max_jobs=options["max_jobs"], once=options["once"], poll=options["poll"])
        self.stdout.write(f"runjobs: {done} job(s) run; stopping.")

    def _devices(self, names: list[str] | None) -> list[Device]:
        if not names:
            devices = list(Device.objects.filter(kind=Device.Kind.LOCAL))
            if not devices:
                raise CommandError("No local device. Run `python manage.py loadcatalogue` first.")
            return devices
        devices = list(Device.objects.filter(name__in=names))
        missing = sorted(set(names) - {d.name for d in devices})
        if missing:
            known = ", ".join(Device.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"Unknown device(s): {', '.join(missing)}. Known: {known}.")
        return devices


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
