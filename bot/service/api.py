"""HTTP API for pilots: server-issued sessions, one chat turn per request, feedback, rating, reset.

POST /api/sessions {"user_id"?, "user_token"?, "participant_id"?}  -> 201 {"session_id", "token", "user_id"}
POST /api/chat     {"session_id"?, "message", "user_id"?, "user_token"?, "alpha"?, "participant_id"?}
                -> {"session_id", "token"? (only when this call started the session), "reply",
                    "items": [{"item_id", "title", "year", "genres", "rank", "score",
                    "parts": {"text", "cf"}, "reason", "facets": {"people", "numbers", "categories",
                    "topics", "description"}}], "understood": {...}}
POST /api/feedback {"session_id", "item_id", "kind": "like" | "dislike" | "unlike"}
POST /api/rate     {"session_id", "rating": 1..5}
POST /api/reset    {"session_id"}
GET  /api/health   readiness: 200 once a real start-up turn succeeded, else 503; also
                   "storage": {"state": "ok" | "error: ...", "logbook": "ok" | "off" | "error: ..."}
GET  /healthz      liveness only: no credentials, no details (HEAD too)

Every call on an existing session carries its token in the `X-Session-Token` header; a
missing or wrong token, or an id the server never issued, is a 403 that says how to start
a session. A known `user_id` (whose history the reasons cite) is bound only with the
`user_token` the pilot's login issued for it (bot/service/identity.py: HMAC-signed with
the secret of --user-secret-file, with an expiry); without one, or on a server started
without a secret, it is a 403 that says how to get one (a session's bound user stays
without a new token; null unbinds it). `parts` are the weighted contributions, so
`score == parts.text + parts.cf`.
A turn on an existing session may carry an `Idempotency-Key` header (1-200 visible ASCII
characters, e.g. a UUID): its answer is kept beside the session's state, in the same save
(bot/service/store.py), so a client that retries after a timeout or a crash gets the same
answer back (with `Idempotent-Replayed: true`) and the turn is applied once. The same key
with another body is a 422; the last MAX_REPLIES keys of a session are kept.
Bodies are strict JSON (no "0.5" for a number, no true for 1, no unknown keys); every
error is {"error": ...} with a 4xx status, or 503 + Retry-After when too many turns run.
Limits, auth and headers for every route live in bot/service/guard.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Literal

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.conversation.chat import BadInput
from bot.service.gate import Busy
from bot.service.chatservice import ChatService
from bot.service.identity import MAX_TOKEN_CHARS, NO_SECRET, NotProven, UserTokens
from bot.conversation.state import Session
from bot.service.sessions import MAX_ID_CHARS, NotOwner, Sessions
from bot.service.store import MAX_REPLIES, KeptReply, StateConflict, StateStoreError

STORE_RETRY_S = 2  # Retry-After when the session store is briefly unavailable

MAX_ITEM_ID_CHARS = 200  # catalog ids are short; longer ones are refused without echo
MAX_USER_ID_CHARS = 200
STRICT = ConfigDict(strict=True, extra="forbid")  # no coercion, no unknown keys
SessionId = Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[A-Za-z0-9_-]+$")
UserId = Field(default=None, min_length=1, max_length=MAX_USER_ID_CHARS)
UserToken = Field(default=None, min_length=1, max_length=MAX_TOKEN_CHARS,
                  description="proof for user_id, issued by the pilot's login (launch.py user-token)")
TokenHeader = Header(default=None, alias="X-Session-Token", max_length=200,
                     description="the token POST /api/sessions returned for this session")
KeyHeader = Header(default=None, alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[!-~]+$",
                   description="a new key per turn (e.g. a UUID), sent again unchanged when retrying it: the "
                               f"turn is applied once and its answer sent again (the last {MAX_REPLIES} "
                               "keys of a session are kept)")
REPLAYED = {"Idempotent-Replayed": "true"}  # marks an answer sent again for a retried key
KEY_NEEDS_SESSION = ("an Idempotency-Key applies to a turn of an existing session: start the session "
                     "with POST /api/sessions first, then send each turn with its session_id, token and key")
KEY_REUSED = ("this Idempotency-Key was already used on this session for a different request: send "
              "a new key with each new message, and the same key only to retry the same request")


class ErrorBody(BaseModel):
    """Every error answer: what went wrong and what to do, never the input echoed back."""

    error: str


ERRORS = {status: {"model": ErrorBody, "description": what} for status, what in (
    (400, "input the bot cannot act on"), (401, "credentials required (with --auth)"),
    (403, "no session with this id and token, or a user_id without a valid user_token"),
    (409, "the session changed in another request"),
    (413, "body over 64 KB"),
    (422, "body of the wrong shape or types, or an Idempotency-Key reused for another request"),
    (429, "too many failed logins"), (503, "busy or a store briefly unavailable: see Retry-After"))}


class KeyMisused(ValueError):
    """An Idempotency-Key that cannot be honoured as sent (422); the text says why."""


class StartRequest(BaseModel):
    model_config = STRICT
    user_id: str | None = UserId
    user_token: str | None = UserToken
    participant_id: str | None = Field(default=None, max_length=200)


class ChatRequest(BaseModel):
    model_config = STRICT
    session_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS,
                                   pattern=r"^[A-Za-z0-9_-]+$")
    message: str = Field(max_length=10_000)
    user_id: str | None = UserId
    user_token: str | None = UserToken
    alpha: float | None = Field(default=None, ge=0.0, le=1.0)
    participant_id: str | None = Field(default=None, max_length=200)


class FeedbackRequest(BaseModel):
    model_config = STRICT
    session_id: str = SessionId
    item_id: str = Field(min_length=1, max_length=MAX_ITEM_ID_CHARS)
    kind: Literal["like", "dislike", "unlike"]


class RateRequest(BaseModel):
    model_config = STRICT
    session_id: str = SessionId
    rating: int = Field(ge=1, le=5)


class ResetRequest(BaseModel):
    model_config = STRICT
    session_id: str = SessionId


def understood(session: Session) -> dict:
    """What the bot took from the conversation so far (ids; titles for people)."""
    return {"liked": list(session.liked_ids), "disliked": list(session.disliked_ids),
            "left_out_genres": list(session.banned_genres), "left_out_title_words": list(session.banned_words),
            "years": None if session.years is None else {"first": session.years.first, "last": session.years.last},
            "seen": [i for r in session.readings for i in r.seen_ids],
            "filters": [{"kind": f.kind, "name": f.name, "values": list(f.values), "low": f.low, "high": f.high,
                         "negate": f.negate} for f in session.facet_filters],
            "audience": session.audience or None, "user_id": session.user_id,
            # how the latest message was read (bot/conversation/reading.py): its act and spans
            "last_message": None if not session.readings else {
                "act": session.readings[-1].act,
                "spans": [{"kind": s.kind, "text": s.text, "polarity": s.polarity, "value": s.value}
                          for s in session.readings[-1].spans]}}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def guarded(fn: Callable[[], dict | Response], status: int = 200) -> Response:
    """Run one request's work; the errors people can act on become 4xx/503 JSON."""
    try:
        out = fn()
        return out if isinstance(out, Response) else JSONResponse(out, status_code=status)
    except KeyMisused as e:
        return error(422, str(e))
    except BadInput as e:
        return error(400, str(e))
    except (NotOwner, NotProven) as e:
        return error(403, str(e))
    except StateConflict as e:
        return error(409, str(e))
    except Busy as e:
        return error(503, str(e), {"Retry-After": str(e.retry_after)})
    except StateStoreError as e:
        return error(503, str(e), {"Retry-After": str(STORE_RETRY_S)})


def fingerprint(req: BaseModel) -> str:
    """sha256 of the fields a request set, as canonical JSON: what "the same request" means
    for an idempotency key. `user_token` is left out: a retry may carry a fresh one."""
    fields = req.model_dump(exclude_unset=True, exclude={"user_token"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def replayed(kept: KeptReply, request_fingerprint: str) -> Response:
    """The kept answer, byte for byte, if it answered this same request; KeyMisused if not."""
    if kept.fingerprint != request_fingerprint:
        raise KeyMisused(KEY_REUSED)
    return Response(kept.answer, media_type="application/json", headers=REPLAYED)


def logbook_state(h: dict | None) -> str:
    """One line for /api/health's "storage": "ok", "off" (no logbook) or "error: ...", which
    stays while writes wait to be retried or once any were dropped (nothing lost silently)."""
    if h is None:
        return "off"
    pending, dropped = h.get("pending", 0), h.get("dropped", 0)
    if not pending and not dropped:
        return "ok"
    return (f"error: {h.get('last_error')} ({pending} writes waiting to be retried, "
            f"{dropped} dropped since the server started)")


def proven(users: UserTokens | None, user_id: str | None, user_token: str | None) -> None:
    """Raise NotProven unless `user_id` is None or `user_token` proves it with `users`' secret."""
    if user_id is None:
        if user_token is not None:
            raise BadInput("a user_token goes with the user_id it was issued for: send both")
        return
    if users is None:
        raise NotProven(NO_SECRET)
    users.check(user_id, user_token)


def create_app(service: ChatService, sessions: Sessions | None = None, users: UserTokens | None = None) -> FastAPI:
    """The JSON API over `service`; `sessions` holds issued sessions (in memory by default);
    `users` checks the user tokens that bind known users (None: every user_id is refused)."""
    app = FastAPI(title="Conversational recommender", docs_url="/api/docs", openapi_url="/api/openapi.json",
                  redoc_url=None)
    sessions = sessions or Sessions()
    app.state.service, app.state.sessions = service, sessions

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
                             for e in exc.errors())  # msg only: the input is never echoed
        return error(422, f"invalid request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        return error(500, "internal error: the server log has the details")

    @app.post("/api/sessions", status_code=201, responses=ERRORS)
    def open_session(req: StartRequest) -> JSONResponse:
        def run():
            proven(users, req.user_id, req.user_token)
            session = service.start(sessions.new_id(), req.user_id, req.participant_id)
            return {"session_id": session.session_id, "token": sessions.issue(session), "user_id": session.user_id}
        return guarded(run, status=201)

    @app.post("/api/chat", responses=ERRORS)
    def chat(req: ChatRequest, token: str | None = TokenHeader, key: str | None = KeyHeader) -> Response:
        def run():
            if req.session_id is None:  # the first turn of a new session: issued once it succeeded
                if key is not None:  # its retry could not name the session: it would start a second one
                    raise KeyMisused(KEY_NEEDS_SESSION)
                proven(users, req.user_id, req.user_token)
                session = service.start(sessions.new_id(), req.user_id, req.participant_id)
                turn, items = service.turn(session, req.message, req.alpha)
                new_token = sessions.issue(turn.session)
                return {"session_id": session.session_id, "token": new_token, "reply": turn.reply,
                        "items": items, "understood": understood(turn.session)}
            with sessions.lock(req.session_id):
                record = sessions.claim(req.session_id, token)  # the owner's, before any kept answer
                request_fingerprint = None if key is None else fingerprint(req)
                if key is not None and (kept := sessions.reply(req.session_id, key)) is not None:
                    return replayed(kept, request_fingerprint)  # a retry: applied already, answered again
                session = record.session
                if "user_id" in req.model_fields_set:  # only an explicit user_id changes it
                    if req.user_id != session.user_id:  # the bound one was proven when bound
                        proven(users, req.user_id, req.user_token)
                    session = service.set_user(session, req.user_id)
                elif req.user_token is not None:
                    proven(users, None, req.user_token)  # a token alone: say it needs its user_id
                turn, items = service.turn(session, req.message, req.alpha)
                body = {"session_id": req.session_id, "reply": turn.reply, "items": items,
                        "understood": understood(turn.session)}
                if key is None:
                    sessions.save(record, turn.session)
                    return body
                answer = JSONResponse(body).body.decode("utf-8")  # the bytes sent, kept to send again
                try:  # state and answer in one save: both kept, or neither
                    sessions.save(record, turn.session, KeptReply(key, request_fingerprint, answer))
                except StateConflict:  # another process moved the session on: with this key?
                    kept = sessions.reply(req.session_id, key)
                    if kept is None:
                        raise
                    return replayed(kept, request_fingerprint)
                return Response(answer, media_type="application/json")
        return guarded(run)

    @app.post("/api/feedback", responses=ERRORS)
    def feedback(req: FeedbackRequest, token: str | None = TokenHeader) -> JSONResponse:
        def run():
            with sessions.lock(req.session_id):
                record = sessions.claim(req.session_id, token)
                session = service.feedback(record.session, req.item_id, req.kind)
                sessions.save(record, session)
                return {"session_id": req.session_id, "understood": understood(session)}
        return guarded(run)

    @app.post("/api/rate", responses=ERRORS)
    def rate(req: RateRequest, token: str | None = TokenHeader) -> JSONResponse:
        def run():
            service.rate(sessions.claim(req.session_id, token).session, req.rating)
            return {"session_id": req.session_id, "rating": req.rating}
        return guarded(run)

    @app.post("/api/reset", responses=ERRORS)
    def reset(req: ResetRequest, token: str | None = TokenHeader) -> JSONResponse:
        def run():
            with sessions.lock(req.session_id):
                record = sessions.claim(req.session_id, token)
                session = service.reset(record.session)
                sessions.save(record, session)
                return {"session_id": req.session_id, "understood": understood(session)}
        return guarded(run)

    @app.get("/api/health", responses={503: {"description": "not ready: the start-up turn has not succeeded"}})
    def health() -> JSONResponse:
        body = service.health()
        # never waits on a store or a log write: each reports its last outcome
        body["storage"] = {"state": sessions.health(), "logbook": logbook_state(body.get("logbook"))}
        return JSONResponse(body, status_code=200 if service.ready else 503)

    @app.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
    def alive() -> dict:  # HEAD too: load balancers probe with it
        return {"status": "alive"}

    return app
