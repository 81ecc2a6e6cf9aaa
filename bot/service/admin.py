"""Catalog updates on a running server: POST /api/admin/catalog, and the command that sends
them or updates a stopped artifact folder.

POST /api/admin/catalog {"rows": [{"item_id", "title", ...}, ...], "remove": ["id", ...]}
  header X-Admin-Token: the token of --admin-token-file
  -> {"added", "updated", "removed", "restored", "items", "available", "encode_s", "seconds",
      "catalog", "version"}

Rows are a catalog file's rows as JSON objects (the columns of `--catalog`, read by the
same loader: retrieval/loaders.py); `remove` withdraws items (never recommended again, kept
for the logbook and past turns). `CatalogAdmin.update` builds the next catalog version
aside (fusion/catalog_update.py), records it in the artifact folder's update log
(fusion/catalog_log.py: a restart serves it) and only then swaps the service's Bot, one
reference: turns in flight finish on the version they started with. Updates run one at a
time. A bad row is a 400 with the loader's message and changes nothing; a server started
without an admin token refuses every update (403), whatever its other credentials.

The admin token is a credential of its own: the --auth password is shared with everyone
who may chat, and chatting must not change the catalog. With --auth set, the guard asks
for it too (bot/service/guard.py). The admin route alone may send bodies up to
ADMIN_BODY_LIMIT, and only with the right token (`body_limit`).

`python launch.py catalog --rows FILE [--remove ID ...] --url URL --admin-token-file F`
sends an update to a running server; without --url, `-- [launch.py flags]` names the
artifact folder to update while no server runs.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from bot.conversation.chat import Bot
from fusion.catalog_log import record
from fusion.catalog_update import apply_change, change_from_rows, read_change
from retrieval.loaders import DataError

ROUTE = "/api/admin/catalog"
TOKEN_HEADER = "X-Admin-Token"
MIN_TOKEN_CHARS = 32  # 32 characters of a random token: too many to guess, even unthrottled
ADMIN_BODY_LIMIT = 8 * 1024 * 1024  # ~1,000 items with descriptions in one atomic update
# How often the interpreter hands the GIL to another thread while an update runs (Python's
# default is 5 ms). Building the next Bot is pure Python; a turn beside it waits for the GIL
# after each of its many torch and numpy calls, up to one interval each: measured at the
# default, turns went from p50 20 to 218 ms while Bots were built (live_catalog_contention.md).
UPDATE_SWITCH_S = 0.0005
NO_TOKEN = ("catalog updates are off on this server: start it with --admin-token-file FILE "
            "(python launch.py catalog --new-token FILE writes one)")


class AdminError(ValueError):
    """An update refused before anything changed: the message says why."""


def load_token(path: Path) -> str:
    """The admin token in `path` (its first line), at least MIN_TOKEN_CHARS long."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise AdminError(f"{path}: cannot read the admin token ({e.strerror})") from None
    if len(token) < MIN_TOKEN_CHARS:
        raise AdminError(f"{path}: an admin token needs at least {MIN_TOKEN_CHARS} characters; "
                         "write a new one with python launch.py catalog --new-token FILE")
    return token


@contextmanager
def short_switches(interval: float = UPDATE_SWITCH_S) -> Iterator[None]:
    """The interpreter's thread switch interval at most `interval` inside, as it was after."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, interval))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class CatalogAdmin:
    """Updates the catalog of `holder.bot` (a ChatService, or anything with a `bot`) and
    records each change in `folder`'s update log (None: not recorded, e.g. tests).
    `token`: the admin credential; None refuses every update."""

    def __init__(self, holder: Any, folder: Path | None = None, token: str | None = None) -> None:
        self.holder, self.folder, self.token = holder, folder, token
        self._lock = threading.Lock()  # one update at a time: each builds on the last

    def token_ok(self, given: str | bytes | None) -> bool:
        if self.token is None or not given:
            return False
        given = given.encode() if isinstance(given, str) else given
        return secrets.compare_digest(given, self.token.encode())

    def body_limit(self, headers: dict[bytes, bytes]) -> int | None:
        """The body limit of an admin request: ADMIN_BODY_LIMIT with the right token, else
        None (the guard's own)."""
        return ADMIN_BODY_LIMIT if self.token_ok(headers.get(TOKEN_HEADER.lower().encode())) else None

    def update(self, rows: list | None = None, remove: list | None = None, rows_file: Path | None = None) -> dict:
        """Apply one change (rows as JSON objects, or a rows file; ids to withdraw), record
        it, swap the bot; what changed. DataError for bad rows: nothing changed."""
        with self._lock, short_switches():
            bot: Bot = self.holder.bot
            before = bot.catalog
            if rows_file is not None:
                change = read_change(before, rows_file, remove or ())
            else:
                change = change_from_rows(before, rows or [], remove or ())
            recommender, report, vectors = apply_change(bot.recommender, change)
            new_bot = Bot(recommender, bot.config, bot.writer)  # title linking, vocabulary: the new catalog
            version = None
            if self.folder is not None:
                version = record(self.folder, before, change, vectors, report,
                                 bot.recommender.retriever.encoder.describe())
            self.holder.bot = new_bot  # the swap: one reference
            return {**report.to_dict(), "version": version}


def add_admin_route(api: FastAPI, admin: CatalogAdmin | None) -> None:
    """POST /api/admin/catalog on `api`; with `admin` None (or no token) it answers 403."""

    @api.post(ROUTE, responses={400: {"description": "a bad row or id: nothing changed"},
                                403: {"description": "no or a wrong admin token, or updates off"}})
    async def update_catalog(request: Request, token: str | None = Header(default=None, alias=TOKEN_HEADER,
                                                                           max_length=200)) -> JSONResponse:
        if admin is None or admin.token is None:
            return JSONResponse({"error": NO_TOKEN}, status_code=403)
        if not admin.token_ok(token):
            return JSONResponse({"error": f"a catalog update needs the admin token in {TOKEN_HEADER}"},
                                status_code=403)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"error": "the body must be JSON: {\"rows\": [...], \"remove\": [...]}"},
                                status_code=400)
        if not isinstance(body, dict) or set(body) - {"rows", "remove"}:
            return JSONResponse({"error": "the body must be an object with 'rows' and/or 'remove' only"},
                                status_code=400)
        remove = body.get("remove") or []
        if not isinstance(remove, list) or not all(isinstance(i, str) for i in remove):
            return JSONResponse({"error": "'remove' must be a list of item ids (strings)"}, status_code=400)
        import anyio

        try:  # encoding the rows takes a while: off the event loop
            out = await anyio.to_thread.run_sync(lambda: admin.update(body.get("rows") or [], remove))
        except DataError as e:
            return JSONResponse({"error": f"nothing changed: {e}"}, status_code=400)
        return JSONResponse(out)


# --- the command ---------------------------------------------------------------------------
def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="launch.py catalog", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=Path, help="items to add or replace: a catalog file (CSV/TSV/JSONL, the "
                                             "columns of --catalog)")
    p.add_argument("--remove", action="append", default=[], metavar="ID", help="withdraw this item (repeatable)")
    p.add_argument("--url", help="a running server (http://HOST:PORT): send the update to it")
    p.add_argument("--admin-token-file", type=Path, help="the server's admin token (with --url)")
    p.add_argument("--auth", help="USER:PASSWORD when the server runs with --auth (with --url)")
    p.add_argument("--new-token", type=Path, metavar="FILE", help="write a new random admin token to FILE and exit")
    own, _, rest = (argv[: argv.index("--")], None, argv[argv.index("--") + 1:]) if "--" in argv else (argv, None, [])
    return p.parse_args(own), rest


def _send(args: argparse.Namespace) -> dict:
    import base64
    import urllib.error
    import urllib.request

    from retrieval.loaders import read_item_rows

    rows = [dict(r) for r in read_item_rows(args.rows, {})[1]] if args.rows else []
    headers = {"content-type": "application/json", TOKEN_HEADER: load_token(args.admin_token_file)}
    if args.auth:
        headers["authorization"] = "Basic " + base64.b64encode(args.auth.encode()).decode()
    req = urllib.request.Request(args.url.rstrip("/") + ROUTE, json.dumps({"rows": rows, "remove": args.remove}).encode(),
                                 headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raise AdminError(f"{e.code}: {json.loads(e.read() or b'{}').get('error', e.reason)}") from None


def main(argv: list[str] | None = None, load: Callable[[list[str]], tuple[Bot, Path]] | None = None) -> int:
    """The command; `load(launch flags)` -> (the bot those flags serve, its artifact folder)
    updates a stopped folder (launch.py passes its own loader: this module never imports it)."""
    args, launch_flags = _parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.new_token:
            args.new_token.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
            args.new_token.chmod(0o600)
            print(f"wrote a new admin token to {args.new_token}: start the server with --admin-token-file "
                  f"{args.new_token}")
            return 0
        if not args.rows and not args.remove:
            raise AdminError("give --rows FILE and/or --remove ID")
        t0 = time.perf_counter()
        if args.url:
            if args.admin_token_file is None:
                raise AdminError("--url needs --admin-token-file")
            out = _send(args)
        else:
            if load is None:
                raise AdminError("a stopped folder is updated through launch.py: python launch.py catalog --rows "
                                 "FILE -- [the flags that serve it]")
            bot, folder = load(launch_flags)
            out = CatalogAdmin(argparse.Namespace(bot=bot), folder).update(rows_file=args.rows, remove=args.remove)
    except (AdminError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"catalog version {out.get('version')}: {len(out['added'])} added, {len(out['updated'])} updated, "
          f"{len(out['removed'])} withdrawn, {out['available']:,} of {out['items']:,} items available "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0
