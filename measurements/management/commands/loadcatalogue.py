"""`manage.py loadcatalogue`: the technique catalogue and this host's `local` device."""

from django.core.management.base import BaseCommand

from measurements.actions import ensure_local_device, load_catalogue


class Command(BaseCommand):
    help = "Load every registered compression technique and register this host as 'local'."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-device", action="store_true", help="Skip the local device.")

    def handle(self, *args, **options) -> None:
        count = load_catalogue()
        self.stdout.write(f"Technique catalogue: {count} techniques loaded.")
        if not options["no_device"]:
            device, created = ensure_local_device()
            verb = "registered" if created else "refreshed"
            self.stdout.write(f"Device {device.name!r} {verb}: {device.processor}.")
