"""`manage.py recommend`: the selector on the command line.

Example::

    manage.py recommend --model lenet-digits --device local --latency-ms 5 \
        --min-accuracy-pct 90 --weights device --strategy greedy

The strategy defaults to compose (the one benchmarks/selector_strategies.py
finds the exhaustive optimum with at a quarter of the evaluations). With
``--evaluations N`` it starts a search that measures as it goes (compose or
tpe: plans without results are compressed and measured through the job
queue, at most N); ``--wait`` then advances it and draws a progress bar until it is
done (a runner, ``manage.py runjobs``, must be serving the device).
"""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError

from measurements.models import Device, DNNModel

FIGURES = (("accuracy_pct", "%"), ("latency_ms", "ms"), ("energy_mj", "mJ"), ("storage_mb", "MB"))


class Command(BaseCommand):
    help = "Recommend a compression plan for a model on a device under budgets (AdaDeep)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model", required=True, help="DNN model name.")
        parser.add_argument("--device", required=True, help="Device name.")
        parser.add_argument(
            "--strategy", default="compose", help="compose, exhaustive, greedy, dqn or tpe."
        )
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--top", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--weights", choices=["device", "manual"], default="manual")
        for name in ("min-accuracy-pct", "max-energy-mj", "latency-ms", "storage-mb", "cache-mb"):
            parser.add_argument(f"--{name}", default=None)
        for name in ("mu1", "mu2", "mu3", "mu4"):
            parser.add_argument(f"--{name}", default=None)
        parser.add_argument("--json", action="store_true", help="Print the full answer as JSON.")
        parser.add_argument(
            "--evaluations",
            type=int,
            default=None,
            help="Start a search evaluating at most N plans (read, predicted or measured).",
        )
        parser.add_argument("--techniques", default="", help="Codes to search, comma-separated.")
        parser.add_argument("--allow-predicted", action="store_true", help="Use predicted figures.")
        parser.add_argument("--wait", action="store_true", help="Wait for the search to finish.")
        parser.add_argument("--poll", type=float, default=2.0, help="Seconds between looks.")
        parser.add_argument("--timeout", type=float, default=None, help="Give up waiting after.")

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
        if options["evaluations"] is not None:
            self._search(model, device, budgets, options)
            return
        if options["wait"]:
            raise CommandError("--wait waits for a search: give --evaluations N.")
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

    def _search(self, model: DNNModel, device: Device, budgets, options: dict) -> None:
        from measurements import actions
        from measurements.recommend import finite_json

        if options["poll"] <= 0:
            raise CommandError(f"--poll must be positive. Received: {options['poll']}")
        codes = [c.strip() for c in options["techniques"].split(",") if c.strip()]
        try:
            search = actions.start_search(
                None, model, device, budgets, options["evaluations"], options["threads"],
                codes, options["seed"], options["allow_predicted"], options["strategy"],
            )  # fmt: skip
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Search {search.pk} started: at most {search.budget} evaluations.")
        deadline = None if options["timeout"] is None else time.monotonic() + options["timeout"]
        while options["wait"] and not search.finished:
            self.stderr.write(progress_line(search), ending="\r")
            if deadline is not None and time.monotonic() > deadline:
                self.stderr.write("")
                raise CommandError(f"Search {search.pk} still running after --timeout; it goes on.")
            time.sleep(options["poll"])
            search = actions.advance_search(search)
        if options["wait"]:
            self.stderr.write(progress_line(search))
        if options["json"]:
            self.stdout.write(json.dumps(finite_json(search.to_dict()), indent=2))
            return
        self._print_search(search)

    def _print_search(self, search) -> None:
        out = self.stdout.write
        out(f"Search {search.pk}: {search.status}, {search.spent} of {search.budget} evaluations")
        best = (search.answer or {}).get("best")
        if best:
            out(f"Best {'plan' if search.finished else 'so far'}: {best['plan']}  {_figures(best)}")
        for reason in search.reasons:
            out(f"  {reason}")

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


BAR_WIDTH = 30


def progress_line(search) -> str:
    """``[#####.....] 3/20 evaluations, 1 waiting, best so far C1`` for the terminal."""
    budget = max(search.budget, 1)
    filled = round(BAR_WIDTH * min(search.spent, budget) / budget)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    best = f", best so far {search.best_plan}" if search.best_plan else ""
    waiting = f", {len(search.pending)} waiting" if search.pending else ""
    return f"[{bar}] {search.spent}/{search.budget} evaluations{waiting}{best} ({search.status})"
