"""Load benchmark: N concurrent API sessions × T turns against a running server on 127.0.0.1.

    python -m benchmarks.load --url http://127.0.0.1:7860 [--sessions 50 --turns 4]

Each session is one person: its own connection from its own loopback address (127.0.0.2,
127.0.0.3, ...; the server holds each address to 32 connections). Every session starts with POST /api/chat (no session_id: the server issues id and token)
and continues with the token; all sessions run at once (asyncio + httpx), each turn after
the previous one of its session. A 503/429 answer is retried after its Retry-After (at most
`--retries` times), so the figures show both refusals and the latency people would see.
`--legacy` speaks the old protocol (client-chosen session ids, no token) to measure a
server from before issued sessions. Bounded: only loopback URLs, at most
sessions × turns × (retries + 1) requests, and `--max-seconds` in all.

Writes benchmarks/results/load.json and load.md: p50/p95/max of a turn's latency (ms,
successful turns, retries included), answers by status, and the server's own count of
turns in flight at most (`/api/health` turns.peak_active, when it reports one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
MESSAGES = ("a funny animated movie for kids", "I loved the first one", "show me more",
            "now something darker for adults, no cartoons", "more like #2", "after 1990 please")


async def session(client: httpx.AsyncClient, n: int, turns: int, retries: int, legacy: bool,
                  deadline: float) -> list[dict]:
    sid, headers, out = (f"load-{n}" if legacy else None), {}, []
    for t in range(turns):
        body = {"message": MESSAGES[(n + t) % len(MESSAGES)]}
        if sid is not None:
            body["session_id"] = sid
        start = time.perf_counter()
        for attempt in range(retries + 1):
            if time.monotonic() > deadline:
                out.append({"status": "timeout", "ms": None, "attempts": attempt})
                return out
            try:
                r = await client.post("/api/chat", json=body, headers=headers)
                status = r.status_code
            except httpx.HTTPError as e:
                status, r = type(e).__name__, None
            if status in (429, 503) and attempt < retries:
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                continue
            break
        ms = (time.perf_counter() - start) * 1000
        out.append({"status": status, "ms": ms, "attempts": attempt + 1})
        if status != 200:
            return out  # the conversation cannot go on without its first answer
        if sid is None:
            data = r.json()
            sid, headers = data["session_id"], {"X-Session-Token": data["token"]}
    return out


def person_address(n: int, url: str) -> str | None:
    """The loopback address session `n` speaks from (127.0.0.2 ...): people come from their
    own addresses, and the server caps connections per address (bot/service/slowloris.py).
    None (the system's choice) for a server not on 127.0.0.1."""
    if urlparse(url).hostname not in ("127.0.0.1", "localhost"):
        return None
    return f"127.0.{1 + n // 250}.{2 + n % 250}"


async def _session_from(url: str, n: int, turns: int, retries: int, legacy: bool, deadline: float,
                        max_seconds: float) -> list[dict]:
    transport = httpx.AsyncHTTPTransport(local_address=person_address(n, url))
    async with httpx.AsyncClient(base_url=url, timeout=max_seconds, transport=transport) as client:
        return await session(client, n, turns, retries, legacy, deadline)


async def run(url: str, sessions: int, turns: int, retries: int, legacy: bool, max_seconds: float) -> dict:
    deadline = time.monotonic() + max_seconds
    start = time.perf_counter()
    results = await asyncio.gather(*(_session_from(url, n, turns, retries, legacy, deadline, max_seconds)
                                     for n in range(sessions)))
    seconds = time.perf_counter() - start
    async with httpx.AsyncClient(base_url=url, timeout=max_seconds) as client:
        try:
            health = (await client.get("/api/health")).json()
        except (httpx.HTTPError, ValueError):
            health = {}
    turns_done = [t for s in results for t in s]
    ok = [t["ms"] for t in turns_done if t["status"] == 200]
    by_status: dict[str, int] = {}
    for t in turns_done:
        by_status[str(t["status"])] = by_status.get(str(t["status"]), 0) + 1
    return {"url": url, "protocol": "legacy client ids" if legacy else "issued sessions",
            "sessions": sessions, "turns_per_session": turns, "retries": retries,
            "turns_answered": len(ok), "turns_planned": sessions * turns, "by_status": by_status,
            "errors": sum(n for s, n in by_status.items() if s != "200"),
            "retried_attempts": sum(t["attempts"] - 1 for t in turns_done),
            "p50_ms": round(float(np.percentile(ok, 50)), 1) if ok else None,
            "p95_ms": round(float(np.percentile(ok, 95)), 1) if ok else None,
            "max_ms": round(max(ok), 1) if ok else None, "seconds": round(seconds, 2),
            "server_peak_turns_in_flight": (health.get("turns") or {}).get("peak_active"),
            "server_turn_limit": (health.get("turns") or {}).get("limit")}


def markdown(r: dict) -> str:
    rows = [("protocol", r["protocol"]), ("sessions × turns", f"{r['sessions']} × {r['turns_per_session']}"),
            ("turns answered", f"{r['turns_answered']} of {r['turns_planned']}"),
            ("answers by status", ", ".join(f"{k}: {v}" for k, v in sorted(r["by_status"].items()))),
            ("errors (non-200 final answers)", r["errors"]), ("retries after Retry-After", r["retried_attempts"]),
            ("p50 / p95 / max latency (ms)", f"{r['p50_ms']} / {r['p95_ms']} / {r['max_ms']}"),
            ("wall time (s)", r["seconds"]),
            ("turns in flight at most (server)", f"{r['server_peak_turns_in_flight']} (limit {r['server_turn_limit']})")]
    return ("# Load: concurrent API sessions\n\n" + f"Against {r['url']}.\n\n| measure | value |\n|---|---|\n"
            + "".join(f"| {k} | {v} |\n" for k, v in rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="a running server on 127.0.0.1 (or localhost)")
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--retries", type=int, default=3, help="retries of a 503/429 answer, after Retry-After")
    p.add_argument("--legacy", action="store_true", help="old protocol: client-chosen ids, no token")
    p.add_argument("--max-seconds", type=float, default=300.0, help="stop starting requests after this")
    p.add_argument("--name", default="load", help="results file stem under benchmarks/results/")
    args = p.parse_args(argv)
    if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        p.error("--url must be a loopback address: this benchmark never loads another machine")
    if not (1 <= args.sessions <= 500 and 1 <= args.turns <= 20 and 0 <= args.retries <= 10):
        p.error("keep it bounded: 1-500 sessions, 1-20 turns, 0-10 retries")
    result = asyncio.run(run(args.url, args.sessions, args.turns, args.retries, args.legacy, args.max_seconds))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(result))
    print(f"{result['turns_answered']}/{result['turns_planned']} turns, p50 {result['p50_ms']} ms, "
          f"p95 {result['p95_ms']} ms, errors {result['errors']}, by status {result['by_status']}, "
          f"peak in flight {result['server_peak_turns_in_flight']} -> {RESULTS / args.name}.json", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
