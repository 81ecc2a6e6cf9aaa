"""The chat API on Ray Serve: one HTTP ingress, N replicas of the pipeline, state in Redis.

    HTTP ──► Ingress (FastAPI: bot/service/api.py's own routes behind bot/service/guard.py, no Gradio)
               │ claim / save each session in Redis (bot/service/redis_store.py: compare-and-set)
               ▼ a DeploymentHandle call per turn, to whichever replica is free
             Pipeline × N (each holds a Bot: encoder, index, CF; computes turns, logs them)

A turn can land on any replica: the ingress loads the session from Redis, sends its JSON
(bot/conversation/state.py) with the message to a replica, and saves the new state with a
compare-and-set on its version before it answers 200. So an acknowledged turn is stored,
two requests never overwrite each other's turns (the loser gets 409), and a replica that
dies mid-turn costs that one request a 503 + Retry-After, never a stored turn. Every
answer names the replica that computed it in the `X-Served-By` header.

Replicas build their Bot from `make_bot`, a picklable zero-argument callable (e.g.
`functools.partial(launch.replica_bot, argv)`), importable on every node; the artifacts
must already be built (launch.py builds them before it deploys).

What this module does NOT know: flags (launch.py reads them), how a turn is computed
(bot/service/chatservice.py), or HTTP routes (bot/service/api.py). It is the only module that imports Ray Serve.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ray
from ray import serve
from ray.exceptions import GetTimeoutError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError

from bot.conversation.chat import BadInput
from bot.service.gate import Busy
from bot.conversation.state import Session, session_from_json, session_to_json

APP_NAME = "convrec"
REPLICA_HEADER = "X-Served-By"
TURN_TIMEOUT_S = 60.0  # a turn is ~50 ms; a replica silent this long is treated as lost
LOST_RETRY_S = 1  # Retry-After when a replica died under a request: Serve replaces it in seconds
# Requests one ingress replica holds at once, as uvicorn's limit_concurrency in launch.py;
# Serve's default (5) would queue a handful of concurrent sessions at the proxy.
INGRESS_MAX_ONGOING = 256
LOST = (RayActorError, GetTimeoutError, BackPressureError, DeploymentUnavailableError)


@serve.deployment(name="Pipeline")
class Pipeline:
    """One replica of the chat pipeline: a ChatService over its own Bot. Errors people can
    act on come back as records, not exceptions, so they cross the process line intact."""

    def __init__(self, make_bot: Callable, log_db: str | None, concurrency: int, queue: int, threads: int) -> None:
        from bot.service.gate import TurnGate, apply_thread_budget
        from bot.service.logbook import SERVING_BUSY_TIMEOUT_S, Logbook
        from bot.service.chatservice import ChatService

        apply_thread_budget(threads)  # this replica's share of the node: its Ray CPUs, not every core
        logbook = None if log_db is None else Logbook(Path(log_db), busy_timeout_s=SERVING_BUSY_TIMEOUT_S)
        self.service = ChatService(make_bot(), logbook, None, TurnGate(concurrency, queue))
        self.replica = serve.get_replica_context().replica_id.unique_id
        if not self.service.self_test():  # Serve reports the replica as failed and retries it
            raise RuntimeError(f"start-up turn failed: {self.service.self_test_error}")

    def _answer(self, fn: Callable[[], object]) -> dict:
        try:
            return {"ok": fn(), "replica": self.replica}
        except BadInput as e:
            return {"bad_input": str(e), "replica": self.replica}
        except Busy as e:
            return {"busy": str(e), "retry_after": e.retry_after, "replica": self.replica}

    def start(self, session_id: str, user_id: str | None, participant_id: str | None) -> dict:
        return self._answer(lambda: session_to_json(self.service.start(session_id, user_id, participant_id)))

    def set_user(self, session: dict, user_id: str | None) -> dict:
        return self._answer(lambda: session_to_json(self.service.set_user(session_from_json(session), user_id)))

    def turn(self, session: dict, message: str, alpha: float | None) -> dict:
        def run() -> dict:
            turn, items = self.service.turn(session_from_json(session), message, alpha)
            return {"session": session_to_json(turn.session), "reply": turn.reply, "items": items}
        return self._answer(run)

    def feedback(self, session: dict, item_id: str, kind: str) -> dict:
        return self._answer(lambda: session_to_json(self.service.feedback(session_from_json(session), item_id, kind)))

    def rate(self, session: dict, rating: int) -> dict:
        return self._answer(lambda: self.service.rate(session_from_json(session), rating))

    def reset(self, session: dict) -> dict:
        return self._answer(lambda: session_to_json(self.service.reset(session_from_json(session))))

    def health(self) -> dict:
        return self._answer(lambda: {**self.service.health(), "ready": self.service.ready})


_served_by: contextvars.ContextVar[dict | None] = contextvars.ContextVar("served_by", default=None)


@dataclass(frozen=True)
class RemoteTurn:
    """What bot/service/api.py reads of an Answer: the reply and the new session."""

    reply: str
    session: Session


class RemoteService:
    """ChatService's calls as bot/service/api.py makes them, each answered by a Pipeline replica."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def _call(self, method: str, *args) -> object:
        try:
            out = getattr(self.handle, method).remote(*args).result(timeout_s=TURN_TIMEOUT_S)
        except LOST as e:  # the replica died or is gone: the request was not stored, so retry
            raise Busy(LOST_RETRY_S, f"a pipeline replica was lost ({type(e).__name__})") from None
        holder = _served_by.get()
        if holder is not None:
            holder["replica"] = out["replica"]
        if "bad_input" in out:
            raise BadInput(out["bad_input"])
        if "busy" in out:
            raise Busy(out["retry_after"], "the pipeline replica is busy")
        return out["ok"]

    def start(self, session_id: str, user_id: str | None = None, participant_id: str | None = None) -> Session:
        return session_from_json(self._call("start", session_id, user_id, participant_id))

    def set_user(self, session: Session, user_id: str | None) -> Session:
        if user_id == session.user_id:
            return session
        return session_from_json(self._call("set_user", session_to_json(session), user_id))

    def turn(self, session: Session, message: str, alpha: float | None = None) -> tuple[RemoteTurn, list[dict]]:
        out = self._call("turn", session_to_json(session), message, alpha)
        return RemoteTurn(out["reply"], session_from_json(out["session"])), out["items"]

    def feedback(self, session: Session, item_id: str, kind: str) -> Session:
        return session_from_json(self._call("feedback", session_to_json(session), item_id, kind))

    def rate(self, session: Session, rating: int) -> None:
        self._call("rate", session_to_json(session), rating)

    def reset(self, session: Session) -> Session:
        return session_from_json(self._call("reset", session_to_json(session)))

    def health(self) -> dict:
        try:
            return {**self._call("health"), "serving": "ray"}
        except Busy as e:
            return {"status": "starting", "error": str(e), "serving": "ray"}

    @property
    def ready(self) -> bool:
        return bool(self.health().get("ready"))


class ServedBy:
    """ASGI middleware: the `X-Served-By` header names the replica that answered the request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        holder: dict = {}
        token = _served_by.set(holder)  # endpoint threads run in a copy of this context: same dict

        async def send_with_header(message) -> None:
            if message["type"] == "http.response.start" and "replica" in holder:
                message = {**message, "headers": [*message.get("headers", []),
                                                  (REPLICA_HEADER.lower().encode(), holder["replica"].encode())]}
            await send(message)
        try:
            await self.app(scope, receive, send_with_header)
        finally:
            _served_by.reset(token)


@serve.deployment(name="Ingress")
@serve.ingress()
class Ingress:
    """The HTTP front: bot/service/api.py's app over a RemoteService and Redis-backed Sessions."""

    def __init__(self, pipeline, redis_url: str, credentials: tuple[str, str] | None,
                 user_secret_file: str | None = None) -> None:
        from pathlib import Path

        from bot.service.identity import load_secret
        from bot.service.redis_store import RedisStateStore
        from bot.service.sessions import Sessions

        # capacity 0: every claim reads Redis, so ingress replicas never act on a stale copy
        self.sessions = Sessions(RedisStateStore(redis_url), capacity=0)
        self.service = RemoteService(pipeline)
        self.credentials = credentials
        self.users = load_secret(Path(user_secret_file)) if user_secret_file else None  # else: user ids refused

    def __serve_build_asgi_app__(self):
        from bot.service.server import build_app

        return ServedBy(build_app(self.service, self.sessions, credentials=self.credentials, ui=False,
                                  users=self.users))


@serve.deployment(name="IndexShard")
class IndexShard:
    """One shard of a sharded index (retrieval/shards.py) as its own deployment: rows
    [start, end) of the unit vectors saved at `vectors_path` (.npy, memory-mapped, so the
    process reads only its slice), indexed by FaissIndex's rule for the shard's size."""

    def __init__(self, vectors_path: str, start: int, end: int) -> None:
        import numpy as np

        from retrieval.index import FaissIndex

        self.index = FaissIndex.build(np.load(vectors_path, mmap_mode="r", allow_pickle=False)[start:end])

    def search(self, queries, n: int, only=None):
        return self.index.search(queries, n, only)


class RemoteShard:
    """A `retrieval.shards.Shard` answered by an IndexShard deployment."""

    def __init__(self, handle, size: int) -> None:
        self.handle, self.size = handle, size

    def __len__(self) -> int:
        return self.size

    def search(self, queries, n: int, only=None):
        return self.handle.search.remote(queries, n, only).result(timeout_s=TURN_TIMEOUT_S)


def deploy_shards(vectors_path: str, n_shards: int, replica_cpus: float = 1.0):
    """A ShardedIndex whose shards are `n_shards` IndexShard applications on the cluster
    (one Serve application per shard, no HTTP route): what a catalog past one machine's
    memory searches through. Call `ray.init` first; the vectors file must be readable at
    `vectors_path` on every node."""
    import numpy as np

    from retrieval.shards import ShardedIndex, shard_bounds

    bounds = shard_bounds(len(np.load(vectors_path, mmap_mode="r", allow_pickle=False)), n_shards)
    shards = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        app = IndexShard.options(ray_actor_options={"num_cpus": replica_cpus}).bind(vectors_path, int(a), int(b))
        shards.append(RemoteShard(serve.run(app, name=f"{APP_NAME}-shard{i}", route_prefix=None), int(b - a)))
    return ShardedIndex(shards, bounds)


@dataclass(frozen=True)
class ServeConfig:
    """How `deploy` lays the application out on the cluster."""

    replicas: int = 2
    replica_cpus: float = 1.0  # Ray CPUs reserved per pipeline replica (its torch / FAISS threads)
    concurrency: int = 2  # turns one replica computes at once (its TurnGate)
    queue: int = 16  # turns that may wait in one replica before it answers busy
    host: str = "127.0.0.1"
    port: int = 8000
    pythonpath: str | None = None  # prepended on every node, so `make_bot` imports (repo root)


def deploy(make_bot: Callable, redis_url: str, config: ServeConfig = ServeConfig(),
           log_db: str | None = None, credentials: tuple[str, str] | None = None,
           user_secret_file: str | None = None):
    """Deploy ingress + pipeline on the Ray cluster this process is connected to (call
    `ray.init` first); returns once every replica passed its start-up turn."""
    if config.replicas < 1:
        raise ValueError(f"--replicas must be at least 1, got {config.replicas}")
    from bot.service.gate import thread_budget

    options = {"runtime_env": {"env_vars": {"PYTHONPATH": os.pathsep.join(
        p for p in (config.pythonpath, os.environ.get("PYTHONPATH")) if p)}}} if config.pythonpath else {}
    cores = max(1, int(config.replica_cpus))
    serve.start(http_options={"host": config.host, "port": config.port})
    pipeline = Pipeline.options(
        num_replicas=config.replicas, max_ongoing_requests=config.concurrency + config.queue,
        ray_actor_options={"num_cpus": config.replica_cpus, **options},
    ).bind(make_bot, log_db, config.concurrency, config.queue, thread_budget(config.concurrency, cores))
    ingress = Ingress.options(max_ongoing_requests=INGRESS_MAX_ONGOING, ray_actor_options={"num_cpus": 0, **options})
    serve.run(ingress.bind(pipeline, redis_url, credentials, user_secret_file), name=APP_NAME, route_prefix="/")


def replica_actors() -> list[tuple[str, str]]:
    """(replica id, actor name) of every live Pipeline replica (to kill one in a test).
    Serve names a replica's actor SERVE_REPLICA::<app>#<deployment>#<replica id>."""
    prefix = f"SERVE_REPLICA::{APP_NAME}#Pipeline#"
    return sorted((a["name"][len(prefix):], a["name"]) for a in ray.util.list_named_actors(all_namespaces=True)
                  if a["name"].startswith(prefix))


def wait_replicas(n: int, timeout_s: float = 120.0) -> list[tuple[str, str]]:
    """Block until `n` Pipeline replicas are alive (after a kill, Serve starts a new one)."""
    deadline = time.monotonic() + timeout_s
    while True:
        live = replica_actors()
        if len(live) >= n or time.monotonic() > deadline:
            return live
        time.sleep(0.5)


def shutdown() -> None:
    serve.shutdown()
    ray.shutdown()
