"""Answer at once, then swap in the full pipeline: the first build of a fresh install.

A first `make run` fine-tunes the encoder, encodes the catalog and fits what the shipped
conversations teach: minutes on two cores before anyone could be answered. `launch.py`
instead serves a quick pipeline built first (the base encoder reading shorter item texts,
CF on the ratings, nothing tuned: correct, weaker) and hands the full build to a
`PipelineUpgrade`: a background thread that builds it, runs one real turn through it, and
swaps it in with one reference assignment, as a live catalog change does
(bot/service/admin.py). Turns in flight finish on the bot they started with. A build that
fails or whose probe turn fails leaves the quick pipeline serving and says why.

What `/api/health` shows under "pipeline" (`ChatService.pipeline`): "full" from the
start when nothing had to be built; "quick" while the full one builds ("building": what,
"since" seconds); "full" with "swapped_after_s" once swapped; "quick" with "error" when the
build failed. The log says the same at each step. Knows nothing of HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from bot.service.chatservice import ChatService, probe

LOG = logging.getLogger("convrec")


class PipelineUpgrade:
    """Build the full pipeline's Bot with `build` in a background thread and swap it into
    `service` once one probe turn through it returned items."""

    def __init__(self, service: ChatService, build: Callable[[], object], what: str,
                 then: Callable[[], None] | None = None) -> None:
        self.service = service
        self.build = build
        self.what = what  # how the log and health name the full pipeline
        self.then = then  # run once the build is over, swapped in or not (launch.py: the turns' thread budget)
        self.thread: threading.Thread | None = None
        self.started = 0.0

    def start(self) -> "PipelineUpgrade":
        self.started = time.monotonic()
        self.service.pipeline = {"state": "quick", "building": self.what, "since": round(time.time(), 1)}
        self.thread = threading.Thread(target=self._run, name="pipeline-upgrade", daemon=True)
        self.thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the build thread has finished (swapped in or failed)."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.thread is not None and not self.thread.is_alive()

    def _run(self) -> None:
        try:
            self._upgrade()
        finally:
            if self.then is not None:
                self.then()

    def _upgrade(self) -> None:
        try:
            bot = self.build()
            error = probe(bot)
            if error is not None:
                raise RuntimeError(f"its first turn failed: {error}")
        except Exception as e:  # the quick pipeline keeps serving; health and the log say why
            message = f"{type(e).__name__}: {e}"
            self.service.pipeline = {"state": "quick", "error": f"the full pipeline was not built: {message}"}
            LOG.error("the full pipeline (%s) was not built; the quick one keeps serving: %s", self.what, message)
            print(f"error: the full pipeline was not built ({message}); the quick one keeps serving", flush=True)
            return
        seconds = round(time.monotonic() - self.started, 1)
        self.service.bot = bot  # the swap: one reference; turns in flight finish on the quick bot
        self.service.pipeline = {"state": "full", "swapped_after_s": seconds}
        print(f"the full pipeline ({self.what}) now answers, {seconds:.0f} s after the quick one", flush=True)
