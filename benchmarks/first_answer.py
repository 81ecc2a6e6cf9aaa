"""How long a newcomer waits: from `launch.py` starting on an empty artifact folder to the
first answer over the API, with the build's stage table.

    python -m benchmarks.first_answer [--artifacts DIR] [--port 7879] [--name first_answer] [-- LAUNCH FLAGS]

Starts `launch.py --artifacts DIR --port PORT --no-log` (DIR must not exist: the whole
first build is timed, as `make run` on a fresh clone runs it), asks `POST /api/chat`
"a funny movie for tonight" every 2 s once the port answers until the first 200 answer
(on a first build, from the quick pipeline: bot/service/upgrade.py), then asks
`/api/health` every 2 s until the full pipeline answers, asks again and stops the server.
Reports the seconds to the first answer and to the full pipeline, the full build's own wall
and CPU seconds, each stage's outcome, seconds and the ETA its heading gave (the build
manifest), and both replies' first titles. `-- --wait-for-build` times the old way (no
answer before the full build). Writes benchmarks/results/<name>.{json,md}.

The machine should be otherwise idle: on 2 shared cores every other job lengthens the
build. Nothing is tuned here: it times what `make run` does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
MESSAGE = "a funny movie for tonight"


def wait_for_answer(url: str, proc: subprocess.Popen, timeout_s: float) -> tuple[float, dict]:
    """(seconds since now until the first 200 from /api/chat, its JSON); raises when the
    server exits or `timeout_s` passes first."""
    start = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        while time.perf_counter() - start < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"launch.py exited with {proc.returncode} before answering")
            try:
                r = client.post(f"{url}/api/chat", json={"message": MESSAGE})
                if r.status_code == 200:
                    return time.perf_counter() - start, r.json()
            except httpx.TransportError:
                pass
            time.sleep(2.0)
    raise RuntimeError(f"no answer within {timeout_s:.0f} s")


def wait_for_full(url: str, proc: subprocess.Popen, timeout_s: float) -> dict:
    """The server's pipeline health once it says the full pipeline answers (or that its build
    failed); raises when the server exits or `timeout_s` passes first."""
    start = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        while time.perf_counter() - start < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"launch.py exited with {proc.returncode} before the full pipeline answered")
            pipeline = client.get(f"{url}/api/health").json().get("pipeline", {})
            if pipeline.get("state") == "full" or "error" in pipeline:
                return pipeline
            time.sleep(2.0)
    raise RuntimeError(f"the full pipeline did not answer within {timeout_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--artifacts", type=Path, default=None, help="a folder that does not exist yet (default: a temp one)")
    p.add_argument("--port", type=int, default=7879)
    p.add_argument("--name", default="first_answer", help="results file stem")
    p.add_argument("--timeout", type=float, default=3600.0)
    args = p.parse_args(own)
    tmp = None
    if args.artifacts is None:
        tmp = tempfile.TemporaryDirectory(prefix="first-answer-")
        args.artifacts = Path(tmp.name) / "artifacts"
    if args.artifacts.exists():
        p.error(f"{args.artifacts} exists: the first build is timed from an empty folder")
    state = args.artifacts.parent / f"{args.artifacts.name}-state.sqlite"
    cmd = [sys.executable, str(ROOT / "launch.py"), "--artifacts", str(args.artifacts), "--port", str(args.port),
           "--no-log", "--state-db", str(state), *extra]
    log_path = args.artifacts.parent / f"{args.artifacts.name}-launch.log"  # progress bars: not kept
    RESULTS.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)
        url = f"http://127.0.0.1:{args.port}"
        try:
            _, answer = wait_for_answer(url, proc, args.timeout)
            seconds = time.perf_counter() - start
            first_pipeline = httpx.get(f"{url}/api/health", timeout=60).json().get("pipeline", {})
            pipeline = wait_for_full(url, proc, args.timeout)
            full_seconds = time.perf_counter() - start
            _, full_answer = wait_for_answer(url, proc, 60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
    build = json.loads((args.artifacts / "manifest.json").read_text())["config"]
    stages = [{k: s[k] for k in ("name", "status", "seconds", "eta_seconds", "reason")} for s in build["stages"]]
    titles = [it.get("title") for it in answer.get("items", [])][:3]
    full_titles = [it.get("title") for it in full_answer.get("items", [])][:3]
    if "error" in pipeline:
        raise RuntimeError(f"the full pipeline was not built: {pipeline['error']}")
    lines = log_path.read_text(errors="replace").replace("\r", "\n").splitlines()
    headings = [ln for ln in lines if ln.startswith(("[", "  ", "movielens", "catalog", "dialogues", "fine-tuned"))]
    report = {"command": " ".join(["python -m benchmarks.first_answer", *argv]), "launch": cmd[1:],
              "first_answer_seconds": round(seconds, 1), "first_answer_pipeline": first_pipeline.get("state"),
              "full_pipeline_seconds": round(full_seconds, 1), "full_titles": full_titles,
              "build_seconds": build["seconds"],
              "build_cpu_seconds": build["cpu_seconds"], "stages": stages, "message": MESSAGE,
              "first_titles": titles, "cpus": os.cpu_count(), "build_log": headings}
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")

    def mmss(s):
        return "–" if s is None else f"{int(s) // 60}m{int(round(s)) % 60:02d}s"

    md = [f"# First answer after a fresh build ({args.name})", "",
          f"Command: `{report['command']}` on {os.cpu_count()} cores. `launch.py` started on an empty artifact folder; "
          f"the first answer to \"{MESSAGE}\" over `POST /api/chat` came **{mmss(seconds)}** after the start, from "
          f"the {first_pipeline.get('state', '?')} pipeline (first titles: " + ", ".join(str(t) for t in titles) + "). "
          f"The full pipeline answered **{mmss(full_seconds)}** after the start (its build {mmss(build['seconds'])} "
          f"wall, CPU {mmss(build['cpu_seconds'])}; first titles: " + ", ".join(str(t) for t in full_titles) + ").",
          "", "The full build's stages:", "",
          "| stage | outcome | seconds | ETA in its heading |", "|---|---|---|---|"]
    md += [f"| {s['name']} | {s['status']}{' (' + s['reason'] + ')' if s['reason'] else ''} | {s['seconds']:.0f} | "
           f"{mmss(s['eta_seconds'])} |" for s in stages]
    (RESULTS / f"{args.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
