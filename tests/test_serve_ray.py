"""The chat API on Ray Serve (bot/service/serve_ray.py): two pipeline replicas over the tiny bot,
session state in a redis-server of the test's own, a local Ray runtime.

One test, marked slow (Ray's start and two replicas take ~30 s on 2 cores): a conversation
continues across both replicas, then one replica is killed while clients keep talking, and
every turn that got a 200 is in the stored session afterwards, in order. Skips, saying
why, where Ray Serve, the redis client or the redis-server binary is missing.
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import free_port, tiny_bot
from tests.redis_server import redis_url

ROOT = Path(__file__).resolve().parent.parent
TURN_MS = 200  # each replica's turn sleeps this long, so the kill lands on turns in flight


def slow_tiny_bot(ms: float):
    """The tiny bot with `ms` of waiting per turn (a picklable factory for the replicas)."""
    from tests.tiny_server import slowed

    return slowed(tiny_bot(k=3), ms, 0)
MESSAGES = ("funny cartoons for kids", "show me more", "something darker, a thriller", "more like #1",
            "after 1990 please", "no horror")


def post_turn(client, sid: str | None, token: str | None, message: str, retries: int = 20,
              refused: list | None = None):
    """POST /api/chat, retrying a 503 after its Retry-After (a lost replica, a busy one);
    each refusal's error text is appended to `refused`."""
    import httpx

    body = {"message": message, **({"session_id": sid} if sid else {})}
    headers = {"X-Session-Token": token} if token else {}
    for _ in range(retries):
        try:
            r = client.post("/api/chat", json=body, headers=headers)
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        if r.status_code != 503:
            return r
        if refused is not None:
            refused.append(r.json()["error"])
        time.sleep(min(float(r.headers.get("retry-after", "1")), 1.0))
    return r


@pytest.mark.slow
def test_two_replicas_share_sessions_and_a_killed_replica_loses_no_acknowledged_turn(tmp_path):
    pytest.importorskip("ray.serve", reason="Ray Serve is not installed: pip install '.[scale]'")
    httpx = pytest.importorskip("httpx")
    import ray

    from bot.service import serve_ray
    from bot.service.redis_store import RedisStateStore

    with redis_url(tmp_path) as url:
        # 3 logical CPUs: two pipeline replicas (1 each) and one spare for the replacement
        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        try:
            port = free_port()
            serve_ray.deploy(functools.partial(slow_tiny_bot, TURN_MS), url,
                             serve_ray.ServeConfig(replicas=2, port=port, pythonpath=str(ROOT)))
            assert len(serve_ray.wait_replicas(2)) == 2
            store = RedisStateStore(url)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                assert client.get("/api/health").json()["serving"] == "ray"

                # 1. one conversation: a like on the first turn is still known on the other replica
                r = post_turn(client, None, None, "I loved Toy Parade")
                assert r.status_code == 200, r.text
                sid, token = r.json()["session_id"], r.json()["token"]
                served = [r.headers[serve_ray.REPLICA_HEADER]]
                sent = ["I loved Toy Parade"]
                for message in MESSAGES * 3:
                    r = post_turn(client, sid, token, message)
                    assert r.status_code == 200, r.text
                    assert "m3" in r.json()["understood"]["liked"]
                    served.append(r.headers[serve_ray.REPLICA_HEADER])
                    sent.append(message)
                    if len(set(served)) == 2 and len(sent) >= 6:
                        break
                assert len(set(served)) == 2, f"every turn landed on one replica: {served}"
                assert store.load(sid).session.turns == tuple(sent)
                assert store.load(sid).version == len(sent) - 1  # one compare-and-set per continued turn

                # 2. clients keep talking while one replica is killed
                acked: dict[str, list[str]] = {}
                tokens: dict[str, str] = {}
                stop = threading.Event()
                failures: list[str] = []
                refused: list[str] = []
                by_replica: dict[str, int] = {}

                def talk(n: int) -> None:
                    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                        r = post_turn(c, None, None, MESSAGES[n % len(MESSAGES)])
                        if r.status_code != 200:
                            failures.append(f"start: {r.status_code} {r.text}")
                            return
                        s = r.json()["session_id"]
                        tokens[s], acked[s] = r.json()["token"], [MESSAGES[n % len(MESSAGES)]]
                        t = 1
                        while not stop.is_set() or t < 4:
                            message = f"{MESSAGES[(n + t) % len(MESSAGES)]} ({t})"
                            r = post_turn(c, s, tokens[s], message, refused=refused)
                            if r.status_code == 200:
                                acked[s].append(message)
                                rid = r.headers[serve_ray.REPLICA_HEADER]
                                by_replica[rid] = by_replica.get(rid, 0) + 1
                            else:
                                failures.append(f"turn: {r.status_code} {r.text}")
                                return
                            t += 1

                clients = [threading.Thread(target=talk, args=(n,)) for n in range(3)]
                for c in clients:
                    c.start()
                time.sleep(2.0)  # mid-load
                victim_id, victim = serve_ray.replica_actors()[0]
                ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
                time.sleep(3.0)
                stop.set()
                for c in clients:
                    c.join(timeout=120)
                assert not failures, failures
                print(f"load: {sum(map(len, acked.values()))} acknowledged turns, by replica {by_replica}; "
                      f"killed {victim_id}; {len(refused)} refusals retried: {sorted(set(refused))}")
                assert by_replica.get(victim_id, 0) > 0  # the killed replica was serving this load
                assert len(acked) == 3 and all(len(turns) >= 4 for turns in acked.values())
                for s, turns in acked.items():
                    assert store.load(s).session.turns == tuple(turns), f"session {s} lost an acknowledged turn"
                live = serve_ray.wait_replicas(2)
                assert victim_id not in {rid for rid, _ in live} and len(live) == 2  # Serve replaced it
        finally:
            serve_ray.shutdown()


class FakeHandle:
    """A DeploymentHandle stand-in: calls a Pipeline object in this process (no Ray runtime),
    or raises `lost` as a handle does when its replica died."""

    def __init__(self, pipeline, lost: Exception | None = None) -> None:
        self.pipeline, self.lost = pipeline, lost

    def __getattr__(self, method: str):
        handle = self

        class Call:
            def remote(self, *args):
                class Response:
                    def result(self, timeout_s=None):
                        if handle.lost is not None:
                            raise handle.lost
                        return getattr(handle.pipeline, method)(*args)
                return Response()
        return Call()


def test_the_ingress_app_over_a_pipeline_answers_as_the_local_api():
    """bot/service/api.py's routes over RemoteService: turns, feedback, rating, reset, the replica
    header, a 400 from the replica, and a lost replica as 503 + Retry-After that stores nothing."""
    pytest.importorskip("ray.serve", reason="Ray Serve is not installed: pip install '.[scale]'")
    from fastapi.testclient import TestClient
    from ray.exceptions import ActorDiedError

    from bot.service import serve_ray
    from bot.service.server import build_app
    from bot.service.chatservice import ChatService
    from bot.service.sessions import Sessions
    from bot.service.store import MemoryStateStore

    pipeline = serve_ray.Pipeline.func_or_class.__new__(serve_ray.Pipeline.func_or_class)
    pipeline.service, pipeline.replica = ChatService(tiny_bot(k=3)), "r1"  # what __init__ sets in a replica
    handle, store = FakeHandle(pipeline), MemoryStateStore()
    app = serve_ray.ServedBy(build_app(serve_ray.RemoteService(handle), Sessions(store, capacity=0), ui=False))
    client = TestClient(app)
    r = client.post("/api/chat", json={"message": "funny cartoons for kids"})
    assert r.status_code == 200 and r.headers[serve_ray.REPLICA_HEADER] == "r1" and len(r.json()["items"]) == 3
    sid, auth = r.json()["session_id"], {"X-Session-Token": r.json()["token"]}
    first = r.json()["items"][0]["item_id"]
    assert client.post("/api/feedback", json={"session_id": sid, "item_id": first, "kind": "like"},
                       headers=auth).json()["understood"]["liked"] == [first]
    r = client.post("/api/chat", json={"session_id": sid, "message": "show me more"}, headers=auth)
    assert r.status_code == 200 and first not in [i["item_id"] for i in r.json()["items"]]
    assert client.post("/api/rate", json={"session_id": sid, "rating": 4}, headers=auth).status_code == 200
    r = client.post("/api/feedback", json={"session_id": sid, "item_id": "nope", "kind": "like"}, headers=auth)
    assert r.status_code == 400 and "nope" in r.json()["error"]  # BadInput raised in the replica
    assert store.load(sid).session.turns == ("funny cartoons for kids", "show me more")

    handle.lost = ActorDiedError()
    r = client.post("/api/chat", json={"session_id": sid, "message": "something darker"}, headers=auth)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert "a pipeline replica was lost (ActorDiedError)" in r.json()["error"]
    assert store.load(sid).session.turns == ("funny cartoons for kids", "show me more")  # nothing half-stored
    assert client.get("/api/health").status_code == 503  # no replica answers: not ready
    handle.lost = None
    assert client.get("/api/health").json()["serving"] == "ray"
    r = client.post("/api/reset", json={"session_id": sid}, headers=auth)
    assert r.status_code == 200 and store.load(sid).session.turns == ()


def test_serve_ray_flags_say_what_is_missing(capsys):
    from launch import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--serve", "ray"])
    assert "pass --redis-url redis://HOST:6379/0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--replicas", "2"])
    assert "--replicas goes with --serve ray" in capsys.readouterr().err
    args = parse_args(["--serve", "ray", "--redis-url", "redis://127.0.0.1:1/0"])
    assert args.replicas == 2 and parse_args([]).serve == "local"


def test_serve_ray_without_ray_is_one_line_naming_the_extra(monkeypatch, capsys):
    import sys

    import launch

    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")] + ["ray", "ray.serve"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if Ray were not installed (even if imported)

    def no_build(args):
        raise AssertionError("the missing extra must be reported before the bot is built")
    monkeypatch.setattr(launch, "make_bot", no_build)
    assert launch.main(["--serve", "ray", "--redis-url", "redis://127.0.0.1:1/0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --serve ray needs Ray Serve and the redis client: pip install '.[scale]'"


@pytest.mark.slow
def test_three_index_shards_on_serve_equal_the_unsharded_top_k(tmp_path):
    """One Serve deployment per shard (bot/service/serve_ray.py deploy_shards), merged by score."""
    pytest.importorskip("ray.serve", reason="Ray Serve is not installed: pip install '.[scale]'")
    import numpy as np
    import ray

    from bot.service import serve_ray
    from retrieval.index import FaissIndex

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(301, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:5] + rng.normal(0, 0.1, (5, 32)).astype(np.float32)
    np.save(tmp_path / "vectors.npy", vectors)
    allowed = rng.random(301) < 0.3
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        sharded = serve_ray.deploy_shards(str(tmp_path / "vectors.npy"), 3, replica_cpus=0.5)
        whole = FaissIndex.build(vectors)
        for only in (None, allowed):
            s0, r0 = whole.search(queries, 10, only)
            s1, r1 = sharded.search(queries, 10, only)
            assert np.array_equal(r1, r0)
            np.testing.assert_allclose(s1, s0, rtol=1e-6, atol=1e-6)
        assert [len(s) for s in sharded.shards] == [101, 100, 100]
    finally:
        serve_ray.shutdown()


def test_the_ingress_binds_known_users_only_with_tokens_of_its_secret(tmp_path, monkeypatch):
    """--serve ray reads --user-secret-file in the ingress: without it a user_id is refused, with
    it a token of that secret binds (no Ray runtime: the ingress class over a FakeHandle)."""
    pytest.importorskip("ray.serve", reason="Ray Serve is not installed: pip install '.[scale]'")
    from fastapi.testclient import TestClient

    from bot.service import redis_store, serve_ray
    from bot.service.chatservice import ChatService
    from bot.service.identity import NO_SECRET, UserTokens
    from bot.service.store import MemoryStateStore

    monkeypatch.setattr(redis_store, "RedisStateStore", lambda url: MemoryStateStore())
    pipeline = serve_ray.Pipeline.func_or_class.__new__(serve_ray.Pipeline.func_or_class)
    pipeline.service, pipeline.replica = ChatService(tiny_bot(k=3)), "r1"
    secret = tmp_path / "user-secret"
    secret.write_text("s" * 32)
    token = UserTokens(b"s" * 32).issue("u5")
    written = serve_ray.Ingress.func_or_class.__mro__[1]  # the class as written, under Serve's async wrapper
    ingress = written.__new__(serve_ray.Ingress.func_or_class)
    for secret_file in (None, str(secret)):
        written.__init__(ingress, FakeHandle(pipeline), "redis://unused", None, secret_file)
        client = TestClient(ingress.__serve_build_asgi_app__())
        r = client.post("/api/sessions", json={"user_id": "u5", "user_token": token})
        if secret_file is None:
            assert r.status_code == 403 and r.json()["error"] == NO_SECRET
        else:
            assert r.status_code == 201 and r.json()["user_id"] == "u5"
            assert client.post("/api/sessions", json={"user_id": "u5"}).status_code == 403
