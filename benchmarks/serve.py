"""Throughput of the chat API on Ray Serve, 1 vs N pipeline replicas (and one local process).

    python -m benchmarks.serve --artifacts artifacts/movielens [--replicas 1,2 --sessions 16 --turns 8]

For each replica count it starts the real server, `launch.py --serve ray --replicas N`, over
a copy of the artifacts, on a local Ray runtime (a fresh one per run) with session state in a redis-server started here
(or `--redis-url`), waits until /api/health is ready, warms every replica with a few
turns, then runs benchmarks/load.py's concurrent sessions against it and stops it with
Ctrl-C (SIGINT). `--local` adds the same load against `launch.py --serve local` (one
process, SQLite state in a temp folder) as the baseline without Ray.

Writes benchmarks/results/serve[_tag].{json,md}: turns/s (answered turns over the load's
wall time), p50/p95 latency, answers by status, and the load average during the run. On a
machine with fewer cores than replicas, or cores shared with other jobs, the ratio
between rows shows Ray Serve's overhead, not a speed-up: the replicas compete for the
same cores. Bounded: loopback only, sessions x turns requests per row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.load import run as run_load

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
READY_TIMEOUT_S = 600.0  # the driver loads the bot, then each replica its own copy (~20 s each on 2 cores)


def start_server(mode: str, replicas: int, args: argparse.Namespace, redis_url: str, folder: Path,
                 port: int) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "launch.py"), "--artifacts", str(folder / "artifacts"), "--no-log",
           "--port", str(port), "--concurrency", str(args.concurrency), "--queue", "64"]
    if mode == "ray":
        cmd += ["--serve", "ray", "--replicas", str(replicas), "--redis-url", redis_url,
                "--replica-cpus", str(args.replica_cpus)]
    else:
        cmd += ["--state-db", str(folder / "state.sqlite")]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray of its own
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(folder / f"{mode}{replicas}.log", "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < READY_TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}); its output: {log}\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/api/health", timeout=5).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"the server was not ready after {READY_TIMEOUT_S:.0f} s; its output: {log}")


def stop(proc: subprocess.Popen) -> None:
    """Ctrl-C, as a person would (launch.py shuts Serve and Ray down), then kill if stuck."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_closed(port: int, timeout_s: float = 60.0) -> None:
    """Until nothing answers on `port`: Ray's proxy can outlive the launch process by seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.5)


def measure(mode: str, replicas: int, args: argparse.Namespace, redis_url: str, folder: Path, port: int) -> dict:
    url = f"http://127.0.0.1:{port}"
    proc = start_server(mode, replicas, args, redis_url, folder, port)
    try:
        ready_s = wait_ready(url, proc, folder / f"{mode}{replicas}.log")
        asyncio.run(run_load(url, 2 * replicas, 2, 5, False, args.max_seconds))  # warm-up: not recorded
        load_before = os.getloadavg()[0]
        r = asyncio.run(run_load(url, args.sessions, args.turns, 5, False, args.max_seconds))
        load_after = os.getloadavg()[0]
    finally:
        stop(proc)
        wait_closed(port)
    log = (folder / f"{mode}{replicas}.log").read_text(errors="replace")
    problems = [line for line in log.splitlines() if any(w in line for w in ("Error", "error", "died", "WARNING"))]
    label = "local process" if mode == "local" else f"ray, {replicas} replica{'s' * (replicas > 1)}"
    return {"serving": label, "mode": mode, "replicas": replicas, "ready_s": round(ready_s, 1),
            "turns_answered": r["turns_answered"], "turns_planned": r["turns_planned"],
            "turns_per_s": round(r["turns_answered"] / r["seconds"], 2) if r["seconds"] else None,
            "p50_ms": r["p50_ms"], "p95_ms": r["p95_ms"], "by_status": r["by_status"],
            "retried_attempts": r["retried_attempts"], "seconds": r["seconds"],
            "load_average": [round(load_before, 2), round(load_after, 2)],
            "server_log_problems": problems[-20:]}  # what the server said went wrong, if anything


def markdown(rows: list[dict], meta: dict) -> str:
    out = ["# Serving on Ray Serve: turns/s for 1 vs N pipeline replicas\n",
           f"{meta['sessions']} concurrent sessions × {meta['turns']} turns (benchmarks/load.py) against "
           f"`launch.py --serve ray --replicas N` on a local Ray runtime, artifacts `{meta['artifacts']}`, "
           f"{meta['cpus']} CPU cores on this machine, {meta['replica_cpus']} Ray CPU per replica, "
           f"{meta['concurrency']} turn(s) at once per replica.\n",
           "| serving | turns/s | p50 ms | p95 ms | answers | retries | load avg (before → after) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['serving']} | {r['turns_per_s']} | {r['p50_ms']} | {r['p95_ms']} | "
                   f"{', '.join(f'{k}: {v}' for k, v in sorted(r['by_status'].items()))} | "
                   f"{r['retried_attempts']} | {r['load_average'][0]} → {r['load_average'][1]} |")
    out.append(f"\n{meta['note']}\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--artifacts", type=Path, required=True, help="built MovieLens artifacts (read only)")
    p.add_argument("--replicas", default="1,2", help="comma-separated replica counts")
    p.add_argument("--local", action="store_true", help="also measure one local process (no Ray)")
    p.add_argument("--sessions", type=int, default=16)
    p.add_argument("--turns", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=1, help="turns one replica computes at once")
    p.add_argument("--replica-cpus", type=float, default=1.0)
    p.add_argument("--redis-url", default=None, help="an existing Redis (default: start redis-server here)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--tag", default="", help="results file: serve_<tag>")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.replicas.split(",") if c.strip()]
    if not counts or not all(1 <= c <= 8 for c in counts) or not (1 <= args.sessions <= 200 and 1 <= args.turns <= 20):
        p.error("keep it bounded: replica counts 1-8, 1-200 sessions, 1-20 turns")
    if not (args.artifacts / "manifest.json").exists():
        p.error(f"no built artifacts in {args.artifacts}: run launch.py --build-only first")
    from tests.redis_server import spawn_redis

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # a copy: every start rewrites the folder's build report (manifest.json), and a flag
        # that changed the pipeline would rebuild in place; --artifacts stays untouched
        shutil.copytree(args.artifacts, folder / "artifacts")
        if args.redis_url is None:
            redis_ctx = spawn_redis(folder)
        else:
            from contextlib import nullcontext
            redis_ctx = nullcontext(args.redis_url)
        with redis_ctx as redis_url:
            plan = ([("local", 1)] if args.local else []) + [("ray", n) for n in counts]
            for i, (mode, n) in enumerate(plan):
                # a port per row: a server still shutting down is never measured as the next one
                rows.append(measure(mode, n, args, redis_url, folder, args.port + i))
                r = rows[-1]
                print(f"{r['serving']}: {r['turns_per_s']} turns/s, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, "
                      f"{r['turns_answered']}/{r['turns_planned']} answered, load avg {r['load_average']}", flush=True)
    cpus = os.cpu_count() or 1
    note = (f"This machine has {cpus} cores, shared with other jobs: replicas compete for the same cores, so "
            "the ratio between rows shows Ray Serve's overhead (an HTTP proxy, an ingress actor and a handle "
            "call per turn), not a speed-up. On a cluster each replica brings its own cores." if cpus <= max(counts)
            else f"{cpus} cores for at most {max(counts)} replicas.")
    meta = {"artifacts": str(args.artifacts), "sessions": args.sessions, "turns": args.turns, "cpus": cpus,
            "replica_cpus": args.replica_cpus, "concurrency": args.concurrency, "note": note}
    name = "serve" + (f"_{args.tag}" if args.tag else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(rows, meta))
    print(f"-> {RESULTS / name}.json, .md", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
