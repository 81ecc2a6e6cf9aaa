"""The served app in one place: the JSON API, the Gradio chat at `/`, and the guard around
both (bot/service/guard.py). launch.py and the tests that start a real server build it here, so
what is tested is what runs.
"""

from __future__ import annotations

from fastapi import FastAPI

from bot.service.admin import CatalogAdmin, add_admin_route
from bot.service.api import create_app
from bot.service.guard import LIVENESS, Guard, LoginThrottle
from bot.service.chatservice import ChatService
from bot.service.identity import UserTokens
from bot.service.sessions import Sessions


def api_routes(api: FastAPI) -> dict[str, set[str]]:
    """Path -> methods of the JSON API's own routes (docs and OpenAPI included)."""
    return {r.path: set(r.methods) for r in api.routes
            if getattr(r, "methods", None) and (r.path.startswith("/api/") or r.path == LIVENESS)}


def build_app(service: ChatService, sessions: Sessions | None = None, alpha: float = 0.7,
              credentials: tuple[str, str] | None = None, concurrency: int = 4, ui: bool = True,
              throttle: LoginThrottle | None = None, users: UserTokens | None = None,
              demo_users: bool = False, admin: CatalogAdmin | None = None) -> Guard:
    """API + chat behind the guard. `concurrency` is Gradio's own queue; the limit shared
    by both front ends is `service.gate`. `users` checks the API's user tokens (None: known
    users are refused); `demo_users` lets the chat page bind any known user id by typing it;
    `admin` takes catalog updates (None: the route refuses them)."""
    api = create_app(service, sessions, users)
    add_admin_route(api, admin)  # catalog updates (bot/service/admin.py): refused unless `admin` has a token
    if ui:
        from bot.service.ui import mount_ui  # gradio is imported only where the chat is served

        api = mount_ui(api, service, alpha, concurrency=concurrency, queue_size=service.gate.limit + service.gate.queue,
                       demo_users=demo_users)
    return Guard(api, lambda: api_routes(api), credentials, throttle,
                 body_limits={"/api/admin/": admin.body_limit} if admin is not None else None)
