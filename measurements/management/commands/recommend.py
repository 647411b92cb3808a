"""`manage.py recommend`: the selector on the command line.

Example::

    manage.py recommend --model lenet-digits --device local --latency-ms 5 \
        --min-accuracy-pct 90 --weights device --strategy greedy
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from measurements.models import Device, DNNModel

FIGURES = (("accuracy_pct", "%"), ("latency_ms", "ms"), ("energy_mj", "mJ"), ("storage_mb", "MB"))


class Command(BaseCommand):
    help = "Recommend a compression plan for a model on a device under budgets (AdaDeep)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model", required=True, help="DNN model name.")
        parser.add_argument("--device", required=True, help="Device name.")
        parser.add_argument("--strategy", default="exhaustive", help="exhaustive, greedy, dqn.")
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--top", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--weights", choices=["device", "manual"], default="manual")
        for name in ("min-accuracy-pct", "max-energy-mj", "latency-ms", "storage-mb", "cache-mb"):
            parser.add_argument(f"--{name}", default=None)
        for name in ("mu1", "mu2", "mu3", "mu4"):
            parser.add_argument(f"--{name}", default=None)
        parser.add_argument("--json", action="store_true", help="Print the full answer as JSON.")

    def handle(self, *args, **options) -> None:
        from measurements.recommend import finite_json, parse_budgets, recommend_for

        model = DNNModel.objects.filter(name=options["model"]).first()
        device = Device.objects.filter(name=options["device"]).first()
        if model is None or device is None:
            raise CommandError(
                f"Unknown model or device. Received: model={options['model']!r}, "
                f"device={options['device']!r}"
            )
        budgets, errors = parse_budgets(options, device)
        if errors:
            raise CommandError("\n".join(f"{k}: {v}" for k, v in errors.items()))
        try:
            answer = recommend_for(
                model, device, budgets, options["strategy"], options["threads"],
                options["top"], options["seed"],
            )  # fmt: skip
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(finite_json(answer), indent=2))
            return
        self._print(answer)

    def _print(self, answer: dict) -> None:
        out = self.stdout.write
        out(f"{answer['strategy']}: {answer['evaluations']} candidate evaluations")
        if answer["best"]:
            out(f"Recommended: {answer['best']['plan']} (binding: {answer['binding']})")
            for rank, plan in enumerate(answer["ranked"], start=1):
                out(f"  {rank}. {plan['plan']}  score {plan['score']:.3f}  {_figures(plan)}")
        else:
            out("Nothing fits the budgets. Closest plans:")
            for plan in answer["closest"]:
                relax = ", ".join(
                    f"{k} to {v['to']:.4g} (by {v['by']:.4g})" for k, v in plan["relax"].items()
                )
                out(f"  {plan['plan']}: relax {relax}")
        if answer["predictor"]:
            p = answer["predictor"]
            out(
                f"Latency predictor: median error {p['median_ape_pct']:.1f}%, "
                f"{p['within_10_pct']:.0%} within ±10% ({p['n_test']} held-out results)"
            )
        out("Measure next: " + ", ".join(m["plan"] for m in answer["measure_next"]))


def _figures(plan: dict) -> str:
    parts = []
    for name, unit in FIGURES:
        figure = plan["figures"][name]
        if figure["value"] is not None:
            parts.append(f"{figure['value']:.4g} {unit} ({figure['source']})")
    return ", ".join(parts)
