"""A throwaway redis-server for tests: its own free port, its own temp folder, no disk writes.

`redis_url(tmp_path)` starts one (Debian's `redis-server` package; `.ci/run` installs it)
and yields its URL; the test skips, saying why, when the binary or the `redis` client is
missing. The server is stopped (by its own pid) when the test ends. `spawn_redis` is the
same without pytest (benchmarks/serve.py starts its Redis with it).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import free_port

START_TIMEOUT_S = 10.0  # redis-server answers PING within milliseconds; 10 s covers a loaded CI box


def skip_without_redis() -> str:
    """The redis-server binary's path; skips the test when it or the client is missing."""
    import pytest

    pytest.importorskip("redis", reason="the redis client is not installed: pip install '.[scale]'")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary: apt-get install redis-server (.ci/run does)")
    return binary


@contextmanager
def redis_url(folder: Path) -> Iterator[str]:
    """A redis-server for one test (skipped without one): its URL."""
    with spawn_redis(folder, skip_without_redis()) as url:
        yield url


@contextmanager
def spawn_redis(folder: Path, binary: str = "redis-server") -> Iterator[str]:
    """Start `binary` on a free loopback port, data in `folder` (nothing saved to disk); its URL."""
    import redis

    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
