"""The live catalog over the real server, end to end (issue 34's "Must show"): a movie added
a minute earlier is recommended with a reason, a withdrawn one never again, a restart keeps
both.

    python -m benchmarks.live_catalog_demo [--artifacts artifacts/movielens] [--port 7871]

Copies the built artifact folder to a temporary one (the original is never changed),
starts `launch.py` on it as a real process with an admin token, and through its HTTP API:
1. asks for the new movie's kind of film (before: it does not exist);
2. adds it with `launch.py catalog --url ... --rows FILE` and withdraws Toy Story (id 1);
3. asks again, and asks for Toy Story in several ways, paging through 'more';
4. stops the server, starts it again on the same folder, and asks the same.
Writes the transcript to benchmarks/results/live_catalog_demo.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NEW_MOVIE = {"item_id": "live-1", "title": "The Lighthouse Keeper's Cat", "year": "2026",
             "genres": "Animation|Children|Adventure", "tags": "cat|lighthouse|storm|island",
             "people:director": "Ada Quill",
             "description": "An orange cat who keeps a lighthouse on a stormy island guides lost ships home."}
WITHDRAWN = "1"  # Toy Story (1995)
ASK_NEW = "an animated movie about a cat who keeps a lighthouse"
ASK_GONE = ["Toy Story", "an animated movie about toys that come alive", "more", "more"]


def start(folder: Path, token: Path, port: int, work: Path) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "launch.py"), "--artifacts", str(folder), "--admin-token-file", str(token),
           "--port", str(port), "--no-log", "--state-db", str(work / "state.sqlite")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(work / "server.log", "a"), stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped: {(work / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError("the server did not become ready in 600 s")


def chat(port: int, messages: list[str]) -> list[dict]:
    out, headers, body = [], {}, {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        for m in messages:
            r = client.post("/api/chat", json={**body, "message": m}, headers=headers)
            r.raise_for_status()
            a = r.json()
            if "token" in a:
                headers, body = {"X-Session-Token": a["token"]}, {"session_id": a["session_id"]}
            out.append({"message": m, "items": [(i["item_id"], f"{i['title']} ({i['year']})", i["reason"])
                                                for i in a["items"]]})
    return out


def render(turns: list[dict]) -> list[str]:
    lines = []
    for t in turns:
        lines.append(f"- **{t['message']}**")
        lines += [f"  {n}. `{i}` {title}: _{reason}_" for n, (i, title, reason) in enumerate(t["items"], 1)]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--artifacts", type=Path, default=ROOT / "artifacts" / "movielens")
    p.add_argument("--port", type=int, default=7871)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="live-catalog-demo-"))
    folder = work / "artifacts"
    shutil.copytree(args.artifacts, folder)
    token = work / "admin.token"
    subprocess.run([sys.executable, str(ROOT / "launch.py"), "catalog", "--new-token", str(token)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    rows = work / "new.jsonl"
    rows.write_text(json.dumps(NEW_MOVIE) + "\n")
    md = ["# Live catalog: a chat over the API while the catalog changes", "",
          f"`python -m benchmarks.live_catalog_demo` on a copy of `{args.artifacts.relative_to(ROOT)}`, "
          f"launch.py as a real process ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).", ""]
    proc = start(folder, token, args.port, work)
    try:
        md += ["## 1. Before the update", "", *render(chat(args.port, [ASK_NEW])), ""]
        t0 = time.perf_counter()
        cmd = [sys.executable, str(ROOT / "launch.py"), "catalog", "--url", f"http://127.0.0.1:{args.port}",
               "--admin-token-file", str(token), "--rows", str(rows), "--remove", WITHDRAWN]
        said = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        md += ["## 2. The update, on the running server", "", "```", " ".join(
            ["python launch.py catalog --url URL --admin-token-file TOKEN --rows new.jsonl --remove", WITHDRAWN]),
               said, "```", f"new.jsonl: `{json.dumps(NEW_MOVIE)}`", "",
               f"({time.perf_counter() - t0:.1f} s including the command's start)", ""]
        md += ["## 3. Right after", "", *render(chat(args.port, [ASK_NEW])), "", *render(chat(args.port, ASK_GONE)), ""]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    proc = start(folder, token, args.port, work)
    try:
        md += ["## 4. After a restart on the same folder", "", *render(chat(args.port, [ASK_NEW])), "",
               *render(chat(args.port, ASK_GONE)), ""]
        log = [line for line in (work / "server.log").read_text().splitlines() if "catalog updates" in line]
        md += ["The restart's own line: `" + (log[-1] if log else "(none)") + "`", ""]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "live_catalog_demo.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
