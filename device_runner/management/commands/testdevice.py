"""`manage.py testdevice NAME`: check a device can measure, and say so in plain words."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from device_runner.connection import test_connection
from measurements.models import Device


class Command(BaseCommand):
    help = "Check a device: reachable, runtime found, power sensor found and readable."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="The device's name.")

    def handle(self, *args, **options) -> None:
        try:
            device = Device.objects.get(name=options["name"])
        except Device.DoesNotExist:
            names = ", ".join(Device.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No device named {options['name']!r}; devices: {names}") from None
        report = test_connection(device)
        yes_no = {True: "yes", False: "NO"}
        self.stdout.write(f"Device {device.name} ({device.get_kind_display()})")
        self.stdout.write(f"  reachable: {yes_no[report.reachable]}")
        self.stdout.write(f"  runtime:   {report.runtime or 'not found'}")
        self.stdout.write(f"  sensor:    {report.sensor or 'none (energy estimated)'}")
        for message in report.messages:
            self.stdout.write(f"  - {message}")
        if not report.ok:
            raise CommandError(f"{device.name} cannot measure now (see above).")
        self.stdout.write(self.style.SUCCESS(f"{device.name} is ready to measure."))
