"""HTTP API for pilots: one chat turn per request, plus feedback, rating and reset.

POST /api/chat     {"session_id", "message", "user_id"?, "alpha"?, "participant_id"?}
                -> {"session_id", "reply", "items": [{"item_id", "title", "year", "genres",
                    "rank", "score", "parts": {"text", "cf"}, "reason"}], "understood": {...}}
POST /api/feedback {"session_id", "item_id", "kind": "like" | "dislike" | "unlike"}
POST /api/rate     {"session_id", "rating": 1..5}
POST /api/reset    {"session_id"}
`parts` are the weighted contributions, so `score == parts.text + parts.cf`. The same
session_id continues a conversation; bad input is a 4xx with {"error": ...}, never a 500.
With credentials configured, every /api route needs HTTP Basic auth.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from bot.chat import BadInput
from bot.service import ChatService
from bot.session import Session

SessionId = Field(min_length=1, max_length=200)


class ChatRequest(BaseModel):
    session_id: str = SessionId
    message: str = Field(max_length=10_000)
    user_id: str | None = None
    alpha: float | None = Field(default=None, ge=0.0, le=1.0)
    participant_id: str | None = None


class FeedbackRequest(BaseModel):
    session_id: str = SessionId
    item_id: str = Field(min_length=1)
    kind: Literal["like", "dislike", "unlike"]


class RateRequest(BaseModel):
    session_id: str = SessionId
    rating: int = Field(ge=1, le=5)


class ResetRequest(BaseModel):
    session_id: str = SessionId


class SessionStore:
    """Sessions by id, least recently used dropped past `capacity` (memory stays bounded)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def lock(self, session_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(session_id, threading.Lock())

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            s = self._sessions.get(session_id)
            if s is not None:
                self._sessions.move_to_end(session_id)
            return s

    def put(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.session_id] = session
            self._sessions.move_to_end(session.session_id)
            while len(self._sessions) > self.capacity:
                old, _ = self._sessions.popitem(last=False)
                self._locks.pop(old, None)


def understood(session: Session) -> dict:
    """What the bot took from the conversation so far (ids; titles for people)."""
    return {"liked": list(session.liked_ids), "disliked": list(session.disliked_ids),
            "left_out_genres": list(session.banned_genres), "left_out_title_words": list(session.banned_words),
            "years": None if session.years is None else {"first": session.years.first, "last": session.years.last},
            "user_id": session.user_id}


def create_app(service: ChatService, store: SessionStore | None = None,
               credentials: tuple[str, str] | None = None) -> FastAPI:
    app = FastAPI(title="Conversational recommender", docs_url="/api/docs", openapi_url="/api/openapi.json")
    store = store or SessionStore()
    app.state.service, app.state.store = service, store
    basic = HTTPBasic(auto_error=False)

    def authorised(creds: HTTPBasicCredentials | None = Depends(basic)) -> None:
        if credentials is None:
            return
        ok = creds is not None and secrets.compare_digest(creds.username, credentials[0]) \
            and secrets.compare_digest(creds.password, credentials[1])
        if not ok:
            raise HTTPException(401, "credentials required", headers={"WWW-Authenticate": "Basic"})

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
                             for e in exc.errors())
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    def known(session_id: str) -> Session:
        session = store.get(session_id)
        if session is None:
            raise BadInput(f"unknown session_id {session_id!r}: start it with POST /api/chat")
        return session

    def guarded(fn):
        try:
            return JSONResponse(fn())
        except BadInput as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    @app.post("/api/chat", dependencies=[Depends(authorised)])
    def chat(req: ChatRequest) -> JSONResponse:
        def run():
            with store.lock(req.session_id):
                session = store.get(req.session_id)
                if session is None:
                    session = service.start(req.session_id, req.user_id, req.participant_id)
                else:
                    session = service.set_user(session, req.user_id)
                turn, items = service.turn(session, req.message, req.alpha)
                store.put(turn.session)
                return {"session_id": req.session_id, "reply": turn.reply, "items": items,
                        "understood": understood(turn.session)}
        return guarded(run)

    @app.post("/api/feedback", dependencies=[Depends(authorised)])
    def feedback(req: FeedbackRequest) -> JSONResponse:
        def run():
            with store.lock(req.session_id):
                session = service.feedback(known(req.session_id), req.item_id, req.kind)
                store.put(session)
                return {"session_id": req.session_id, "understood": understood(session)}
        return guarded(run)

    @app.post("/api/rate", dependencies=[Depends(authorised)])
    def rate(req: RateRequest) -> JSONResponse:
        def run():
            service.rate(known(req.session_id), req.rating)
            return {"session_id": req.session_id, "rating": req.rating}
        return guarded(run)

    @app.post("/api/reset", dependencies=[Depends(authorised)])
    def reset(req: ResetRequest) -> JSONResponse:
        def run():
            with store.lock(req.session_id):
                session = service.reset(known(req.session_id))
                store.put(session)
                return {"session_id": req.session_id, "understood": understood(session)}
        return guarded(run)

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "catalog": service.bot.catalog.name, "items": len(service.bot.catalog)}

    return app
