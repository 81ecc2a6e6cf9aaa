"""HTTP API for one chat turn: `POST /api/chat`, for pilots that integrate without a browser.

Request  {"session_id": str, "message": str, "user_id": str | null, "alpha": float | null}
Response {"session_id", "reply", "items": [{"item_id", "title", "year", "genres", "rank",
          "score", "parts": {"text", "cf"}, "reason"}]}
`parts` are the weighted contributions, so `score == parts.text + parts.cf`. The same
session_id continues a conversation; bad input is a 4xx with {"error": ...}, never a 500.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.chat import BadInput, Bot, Turn, with_user
from bot.session import Session


class ChatRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=200)
    message: str = Field(max_length=10_000)
    user_id: str | None = None
    alpha: float | None = Field(default=None, ge=0.0, le=1.0)


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


def turn_json(turn: Turn) -> dict:
    items = []
    for it in turn.items:
        r = it.recommendation
        items.append({
            "item_id": r.item.item_id, "title": r.item.title, "year": r.item.year,
            "genres": list(r.item.genres), "rank": r.rank, "score": round(r.score, 6),
            "parts": {"text": round(r.alpha * r.text, 6), "cf": round((1 - r.alpha) * r.cf, 6)},
            "reason": it.reason,
        })
    return {"session_id": turn.session.session_id, "reply": turn.reply, "items": items}


def chat_turn(bot: Bot, store: SessionStore, req: ChatRequest) -> Turn:
    with store.lock(req.session_id):
        session = store.get(req.session_id)
        if session is None:
            session = bot.new_session(req.session_id, req.user_id)
        elif req.user_id != session.user_id:
            bot.new_session(req.session_id, req.user_id)  # validates the id
            session = with_user(session, req.user_id)
        turn = bot.respond(req.message, session, alpha=req.alpha)
        store.put(turn.session)
        return turn


def create_app(bot: Bot, store: SessionStore | None = None) -> FastAPI:
    app = FastAPI(title="Conversational recommender", docs_url="/api/docs", openapi_url="/api/openapi.json")
    store = store or SessionStore()
    app.state.bot, app.state.store = bot, store

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
                             for e in exc.errors())
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    @app.post("/api/chat")
    def chat(req: ChatRequest) -> JSONResponse:
        try:
            return JSONResponse(turn_json(chat_turn(bot, store, req)))
        except BadInput as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "catalog": bot.catalog.name, "items": len(bot.catalog)}

    return app
