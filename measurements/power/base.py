"""The power sampler interface shared by every device kind.

A sampler reads a sensor on a background thread at up to ``sample_hz`` while
the timed runs execute; ``stop`` returns ``(t_seconds, watts)`` pairs on the
same clock as the protocol (``time.perf_counter`` by default) so the energy
of the inference window can be integrated (seed 001 section III-B samples at
1,000 per second and matches readings against the execution time stamps).

Subclasses implement ``read()`` (one raw reading) and, when the sensor counts
energy rather than power, ``to_power()``. Plain Python: no Django import.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

# (t_seconds, watts) after conversion; (t_seconds, raw reading) before.
Sample = tuple[float, float]
RawSample = tuple[float, Any]


class PowerSamplerError(RuntimeError):
    """A power sensor is missing, unreadable or failed while sampling."""


class PowerSampler:
    """Base class of power samplers.

    Args:
        sample_hz: target sampling rate, Hz (the thread sleeps between reads,
            so the achieved rate is at most this).
        clock: seconds, monotonic; the protocol's clock.
    """

    name: ClassVar[str] = "abstract"
    # How a figure from this sampler is labelled in a Result.
    method: ClassVar[str] = "measured"

    def __init__(
        self, sample_hz: float = 1000.0, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        if not sample_hz > 0:
            raise ValueError(f"sample_hz must be positive. Received: sample_hz={sample_hz!r}")
        self.sample_hz = float(sample_hz)
        self.clock = clock
        self._raw: list[RawSample] = []
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def unavailable_reason(self) -> str | None:
        """Why this sampler cannot run here, or ``None`` when it can."""
        raise NotImplementedError

    def available(self) -> bool:
        """Whether the sensor is present and readable by this process."""
        return self.unavailable_reason() is None

    def read(self) -> Any:
        """One raw reading (watts, or an energy counter for counting sensors)."""
        raise NotImplementedError

    def to_power(self, raw: list[RawSample]) -> list[Sample]:
        """Convert raw ``(t, reading)`` pairs to ``(t, watts)``; identity by default."""
        return list(raw)

    def start(self) -> None:
        """Start the sampling thread; raises ``PowerSamplerError`` if unavailable."""
        reason = self.unavailable_reason()
        if reason is not None:
            raise PowerSamplerError(reason)
        if self._thread is not None:
            raise PowerSamplerError(f"{self.name} sampler already started")
        self._raw, self._error = [], None
        self._stop.clear()
        self._raw.append((self.clock(), self.read()))  # a reading at t=start
        self._thread = threading.Thread(target=self._loop, name=f"{self.name}-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        period = 1.0 / self.sample_hz
        next_tick = self.clock() + period
        try:
            while not self._stop.wait(max(0.0, next_tick - self.clock())):
                self._raw.append((self.clock(), self.read()))
                # If reads fell behind, skip missed ticks rather than burst.
                next_tick = max(next_tick + period, self.clock())
        except Exception as exc:  # kept and re-raised by stop(): a thread cannot raise
            self._error = exc

    def stop(self) -> list[Sample]:
        """Stop sampling and return ``(t_seconds, watts)`` pairs, oldest first."""
        if self._thread is None:
            raise PowerSamplerError(f"{self.name} sampler was not started")
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self._error is not None:
            raise PowerSamplerError(f"{self.name} sampling failed: {self._error}") from self._error
        self._raw.append((self.clock(), self.read()))  # a reading at t=stop
        return self.to_power(self._raw)
