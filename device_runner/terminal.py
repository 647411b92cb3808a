"""A one-line-per-job progress bar for runjobs and the demo."""

from __future__ import annotations

import sys

from measurements.models import Job


class ProgressBar:
    """One terminal line per job: ``job 12 [#####.....] 50% measuring``."""

    WIDTH = 30

    def __init__(self, stream) -> None:
        self.stream = stream
        self.interactive = getattr(sys.stderr, "isatty", lambda: False)()

    def update(self, job: Job, fraction: float, stage: str) -> None:
        filled = int(self.WIDTH * fraction)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        text = f"job {job.pk} [{bar}] {fraction:4.0%} {stage}"
        if self.interactive:
            self.stream.write("\r" + text.ljust(70), ending="\n" if fraction >= 1 else "")
        else:
            self.stream.write(text)
