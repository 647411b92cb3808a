"""`manage.py runnertoken`: issue, list and revoke the tokens runner hosts use.

``create NAME --device D… [--role measure|compress|both]`` prints the key
once (only its hash is kept); ``revoke NAME`` stops it at once and gives
its jobs back to the queue; ``list`` shows every token and its host.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from measurements.actions.runner_tokens import issue_runner_token, revoke_runner_token
from measurements.models import RunnerToken


class Command(BaseCommand):
    help = "Issue, list or revoke runner tokens (what a device host on another machine uses)."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token; its key is printed once.")
        create.add_argument("name", help="Which host it is for, e.g. pi-lab-3.")
        create.add_argument("--device", action="append", dest="devices", default=[], metavar="NAME")
        create.add_argument("--role", choices=RunnerToken.Role.values, default="both")
        revoke = sub.add_parser("revoke", help="Revoke a token; its jobs go back to the queue.")
        revoke.add_argument("name")
        sub.add_parser("list", help="Every token, its role, devices and host.")

    def handle(self, *args, **options) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict) -> None:
        try:
            token, key = issue_runner_token(options["name"], options["role"], options["devices"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        devices = ", ".join(token.devices.values_list("name", flat=True)) or "no device"
        self.stdout.write(f"Runner token {token.name!r} ({token.role}; {devices}). Its key:")
        self.stdout.write(key)
        self.stdout.write("Shown once: give it to the host as --token or COMPRESSO_RUNNER_TOKEN.")

    def _revoke(self, options: dict) -> None:
        token = RunnerToken.objects.filter(name=options["name"]).first()
        if token is None:
            raise CommandError(f"No runner token named {options['name']!r}.")
        released = revoke_runner_token(token)
        self.stdout.write(f"Revoked {token.name!r}; {released} running job(s) back in the queue.")

    def _list(self, options: dict) -> None:
        for token in RunnerToken.objects.prefetch_related("devices"):
            devices = ",".join(d.name for d in token.devices.all()) or "-"
            state = "revoked" if token.revoked else "connected" if token.connected else "idle"
            seen = token.last_heartbeat_at.isoformat() if token.last_heartbeat_at else "never"
            self.stdout.write(
                f"{token.name}\t{token.role}\t{devices}\t{token.host_name or '-'}\t"
                f"{token.version or '-'}\t{seen}\t{state}"
            )
