"""Stage headings, ETAs and the closing summary of a build (fusion/build.py).

A build is a fixed list of stages; each one is started with a heading ("[2/4] encoding
10,000 items (ETA 1m40s)") and ends as done, reused or skipped (with the reason). The
record of every stage goes into the build manifest, so a later reader sees what was
skipped and why. Knows nothing of models or data: names, seconds and words only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


def duration(seconds: float) -> str:
    """12.3 -> "12s", 100 -> "1m40s", 4000 -> "1h06m"."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def estimate_encode_seconds(encode: Callable[[list[str]], Any], texts: Sequence[str], sample: int = 64) -> float:
    """Seconds `encode` will take over `texts`, timed on `sample` texts spread evenly over
    them (short and long alike), so the ETA costs under 1% of the work for 10k texts. Two
    texts go through first, untimed: a model's first call pays for warming up, and timing
    it overstated a 3-minute stage as 4 or 5."""
    if not texts:
        return 0.0
    step = max(1, len(texts) // sample)
    chosen = list(texts[::step][:sample])
    encode(chosen[:2])
    start = time.perf_counter()
    encode(chosen)
    return (time.perf_counter() - start) * len(texts) / len(chosen)


@dataclass
class StageRecord:
    name: str
    status: str = "pending"  # built | reused | skipped
    reason: str = ""  # why it was skipped
    seconds: float = 0.0
    detail: str = ""  # e.g. "10,000 items"
    eta_seconds: float | None = None  # what the heading promised, to compare with `seconds`


@dataclass
class Stages:
    """Prints "[i/n] heading" per stage when `progress`, and records what each did."""

    names: Sequence[str]
    progress: bool = True
    records: dict[str, StageRecord] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)
    wall_start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=time.process_time)

    def __post_init__(self) -> None:
        self.records = {n: StageRecord(n) for n in self.names}

    def _say(self, name: str, text: str) -> None:
        if self.progress:
            print(f"[{list(self.names).index(name) + 1}/{len(self.names)}] {text}", flush=True)

    def start(self, name: str, heading: str, eta_seconds: float | None = None) -> None:
        self._started[name] = time.perf_counter()
        self.records[name].eta_seconds = eta_seconds
        self._say(name, heading + (f" (ETA {duration(eta_seconds)})" if eta_seconds is not None else ""))

    def done(self, name: str, status: str = "built", detail: str = "") -> None:
        """Record the stage's outcome; a stage that ran also prints what it took (beside the
        ETA its heading gave), and the time since the build began."""
        rec = self.records[name]
        rec.status, rec.detail = status, detail
        rec.seconds = time.perf_counter() - self._started.get(name, time.perf_counter())
        if name in self._started and rec.seconds >= 1.0:
            eta = f", ETA was {duration(rec.eta_seconds)}" if rec.eta_seconds is not None else ""
            self._say(name, f"{name}: {status} in {duration(rec.seconds)}{eta} "
                            f"({duration(time.perf_counter() - self.wall_start)} since the build began)")

    def skip(self, name: str, reason: str) -> None:
        rec = self.records[name]
        rec.status, rec.reason = "skipped", reason
        self._say(name, f"{name}: skipped, {reason}")

    def skipped(self) -> dict[str, str]:
        return {n: r.reason for n, r in self.records.items() if r.status == "skipped"}

    def seconds(self) -> tuple[float, float]:
        """(wall, CPU) seconds since the build began; CPU counts every thread of the process,
        so on shared cores it shows the work where wall time shows the wait."""
        return time.perf_counter() - self.wall_start, time.process_time() - self.cpu_start

    def summary(self, what: str) -> str:
        """One line: what was built, how long (wall and CPU), and each stage's outcome."""
        wall, cpu = self.seconds()
        parts = []
        for r in self.records.values():
            if r.status == "skipped":
                parts.append(f"{r.name} skipped ({r.reason})")
            elif r.status != "pending":
                parts.append(f"{r.name} {r.status}" + (f" {duration(r.seconds)}" if r.status == "built" else ""))
        return f"{what} in {duration(wall)} (CPU {duration(cpu)}): " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        wall, cpu = self.seconds()
        return {"stages": [{"name": r.name, "status": r.status, "reason": r.reason, "detail": r.detail,
                            "seconds": round(r.seconds, 2),
                            "eta_seconds": None if r.eta_seconds is None else round(r.eta_seconds, 2)} for r in self.records.values()],
                "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}
