"""`manage.py demo`: the bundled baseline, a first sweep on this host, demo credentials.

The demo network is the zoo ResNet-8 (3x3 convolutions with BatchNorm, residual
adds with projection shortcuts, global pooling: the structure of the networks
people ship, and every width-changing technique has a spatial convolution to act
on) on the bundled digits upscaled to 32x32. Its latency on one core is about
0.3 ms, far above the timer's noise, so the Compare and Pareto pages show real
trade-offs; LeNet on 8x8 digits ran in 3-4 us, where every difference was noise.

Idempotent: a second run reuses the trained model and queues only what is new.
Lives in device_runner, not measurements: it drives the runner.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from device_runner.runner import Runner
from device_runner.terminal import ProgressBar
from measurements import actions
from measurements.models import Result

DEMO_USER, DEMO_PASSWORD = "demo", "compresso-demo"
DEMO_ARCH, DEMO_MODEL = "resnet", "resnet8-digits32"
DEMO_DATASET, DEMO_SIDE = "digits32", 32
# A quick protocol for the demo sweep: the stop rule still applies, with a short time cap.
DEMO_PROTOCOL = {"warmup_runs": 3, "min_runs": 10, "max_runs": 10000, "max_seconds": 2.0}


class Command(BaseCommand):
    help = "Train the bundled ResNet-8 baseline, queue and run the standard sweep locally."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--epochs", type=int, default=12, help="Baseline training epochs.")
        parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
        parser.add_argument("--no-run", action="store_true", help="Queue only; do not run.")

    def handle(self, *args, **options) -> None:
        self._ensure_demo_user()
        device, _ = actions.ensure_local_device()
        dataset = actions.register_dataset(
            DEMO_DATASET, "bundled", {"seed": 0, "resize_to": DEMO_SIDE}
        )
        model = dataset.models.filter(name=DEMO_MODEL).first()
        if model is None:
            self.stdout.write(f"Training the {DEMO_ARCH} baseline on the bundled digits…")
            model = actions.train_and_register_baseline(
                DEMO_ARCH, dataset, epochs=options["epochs"], name=DEMO_MODEL
            )
        plans = actions.standard_sweep_texts()
        jobs = actions.queue_jobs([model], plans, [device], options["threads"], DEMO_PROTOCOL)
        self.stdout.write(f"Queued {len(jobs)} job(s): {len(plans)} plans x {options['threads']}.")
        if not options["no_run"]:
            # TensorFlow is loaded here already: compressing in this process saves the
            # 4-9 s each child process spends starting it, for every plan of the sweep.
            runner = Runner(
                devices=[device],
                on_progress=ProgressBar(self.stderr).update,
                compress_in_child=False,
            )
            runner.run(once=True)
        count = Result.objects.filter(artifact__model=model).count()
        self.stdout.write(f"{count} result(s) for {model.name} on this host.")
        self.stdout.write(f"Log in with {DEMO_USER} / {DEMO_PASSWORD}")

    def _ensure_demo_user(self) -> None:
        # The demo's one user runs the whole lab on their laptop, devices included,
        # so it is staff; a lab creates its users with createsuperuser / the admin.
        users = get_user_model()
        if not users.objects.filter(username=DEMO_USER).exists():
            users.objects.create_user(DEMO_USER, password=DEMO_PASSWORD, is_staff=True)
