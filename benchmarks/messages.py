"""Hostile messages: the turn time of the worst messages and `/healthz` while they run.

    python launch.py &                                   # or any server on 127.0.0.1
    python -m benchmarks.messages --url http://127.0.0.1:7860

Sends one 2,000-character message (the length limit) per unit of `UNITS` (runs of every
character class and of the words each reading stage looks for) to `/api/chat`, each in a
new session, one at a time; while each turn runs, `/healthz` is asked every 20 ms from
another connection. Then the same 50 sessions x 4 turns of ordinary messages as
`benchmarks/load.py`, with the worst message sent every second beside them, so that their
p95 shows what hostile messages cost everyone else.

Writes benchmarks/results/messages.json and messages.md: per message, the turn's latency
as the client sees it, how its reply starts ("That message is more than I can read in one
go": over the reading budget, bot/conversation/budget.py) and /healthz latency (median,
max) meanwhile. Bounded: loopback
URLs only.
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

from benchmarks.load import run as run_load
from bot.conversation.reading import MAX_MESSAGE_CHARS

RESULTS = Path(__file__).resolve().parent / "results"
MAX_CHARS = MAX_MESSAGE_CHARS  # the reader's length limit
# Runs of one unit up to the length limit: punctuation, emoji, digits, letters, and the words
# each reading stage looks for (negations, cues, list references, years, units, names, titles).
UNITS = (".", "🎬", "!", "?", ",", "-", "'", '"', "(", "#", "*", "/", ":", "_", "\u200d", "é", "1", "A", "a",
         "a ", "1 ", "A ", "Word ", "Heat ", "heat ", "no ", "not ", "and ", "the ", "by ", "with ", "like ",
         "#1 ", "more like #2 ", "1990s ", "90 min ", "a.b ", "it's ", "a-", "no, not that, ",
         "not the one with ", "Tom Hanks ", "tom hanks ", "directed by ", "about dogs ", "heist ",
         "Star Wars ", "the first one ", "under 2 hours ", "i didn't say i liked ", "!?!?!? ",
         "\"Heat\" ", "Heat (1995), ", "love actually it is ", "Zxq Vbn ", "abababababab ")
HEALTH_EVERY_S = 0.02


def long(unit: str, chars: int = MAX_CHARS) -> str:
    """`unit` repeated to `chars` characters."""
    return (unit * (chars // len(unit) + 1))[:chars]


async def _poll_health(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    out = []
    while not stop.is_set():
        start = time.perf_counter()
        await client.get("/healthz")
        out.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(HEALTH_EVERY_S)
    return out


async def one_message(url: str, message: str) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=300) as chat, httpx.AsyncClient(base_url=url, timeout=300) as health:
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll_health(health, stop))
        await asyncio.sleep(0.05)  # a few health answers before the turn
        start = time.perf_counter()
        r = await chat.post("/api/chat", json={"message": message})
        ms = (time.perf_counter() - start) * 1000
        stop.set()
        pings = await poller
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    return {"status": r.status_code, "turn_ms": round(ms, 1), "items": len(body.get("items") or ()),
            "reply": " ".join((body.get("reply") or body.get("error") or "").split())[:60],
            "healthz_p50_ms": round(float(np.median(pings)), 1), "healthz_max_ms": round(max(pings), 1),
            "healthz_answers": len(pings)}


async def load_beside(url: str, worst: str, sessions: int, turns: int) -> dict:
    """The load run with the worst message sent every second beside it."""
    stop = asyncio.Event()

    async def hostile() -> int:
        sent = 0
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            while not stop.is_set():
                await client.post("/api/chat", json={"message": worst})
                sent += 1
                await asyncio.sleep(1.0)
        return sent

    task = asyncio.create_task(hostile())
    result = await run_load(url, sessions, turns, retries=3, legacy=False, max_seconds=300.0)
    stop.set()
    result["hostile_messages_sent"] = await task
    return result


def markdown(r: dict) -> str:
    rows = sorted(r["messages"], key=lambda m: -m["turn_ms"])
    out = ["# Hostile messages: turn time and /healthz meanwhile\n",
           f"Against {r['url']}; {len(rows)} messages of {MAX_CHARS} characters, one at a time, each in a new "
           f"session; /healthz asked every {HEALTH_EVERY_S * 1000:.0f} ms meanwhile. "
           f"`python -m benchmarks.messages --url {r['url']}`.\n",
           f"Worst turn **{rows[0]['turn_ms']} ms** ({ascii(rows[0]['unit'])}); /healthz at most "
           f"**{max(m['healthz_max_ms'] for m in rows)} ms** during any of them.\n",
           "| message (unit repeated) | status | turn ms | items | reply starts | /healthz p50 / max ms |",
           "|---|---|---|---|---|---|"]
    out += [f"| `{ascii(m['unit'])}` | {m['status']} | {m['turn_ms']} | {m['items']} | "
            f"{m['reply'].replace('|', '/')[:40]} | {m['healthz_p50_ms']} / {m['healthz_max_ms']} |" for m in rows]
    for name, title in (("load_alone", "ordinary load alone"), ("load_beside", "ordinary load, worst message every second")):
        if name in r:
            x = r[name]
            out.append(f"\n{title}: {x['turns_answered']}/{x['turns_planned']} turns, p50 / p95 / max "
                       f"{x['p50_ms']} / {x['p95_ms']} / {x['max_ms']} ms, by status {x['by_status']}"
                       + (f", hostile messages sent {x['hostile_messages_sent']}" if "hostile_messages_sent" in x else ""))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="a running server on 127.0.0.1 (or localhost)")
    p.add_argument("--sessions", type=int, default=50, help="sessions of the ordinary load (0: no load run)")
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--name", default="messages", help="results file stem under benchmarks/results/")
    args = p.parse_args(argv)
    if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        p.error("--url must be a loopback address: this benchmark never loads another machine")
    messages = []
    for unit in UNITS:
        m = {"unit": unit, **asyncio.run(one_message(args.url, long(unit)))}
        messages.append(m)
        print(f"{m['turn_ms']:8.1f} ms  {m['status']}  items {m['items']:2}  healthz max {m['healthz_max_ms']:6.1f} ms  "
              f"{ascii(unit)}", flush=True)
    result = {"url": args.url, "messages": messages}
    if args.sessions:
        worst = max(messages, key=lambda m: m["turn_ms"])["unit"]
        result["load_alone"] = asyncio.run(run_load(args.url, args.sessions, args.turns, 3, False, 300.0))
        result["load_beside"] = asyncio.run(load_beside(args.url, long(worst), args.sessions, args.turns))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(result))
    worst = max(messages, key=lambda m: m["turn_ms"])
    print(f"worst turn {worst['turn_ms']} ms ({ascii(worst['unit'])}); /healthz max "
          f"{max(m['healthz_max_ms'] for m in messages)} ms"
          + (f"; load p95 alone {result['load_alone']['p95_ms']} ms, beside the worst message "
             f"{result['load_beside']['p95_ms']} ms" if args.sessions else "")
          + f" -> {RESULTS / args.name}.json", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
