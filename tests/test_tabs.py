"""A chat tab belongs to the browser that started it (bot/service/tabs.py, bot/service/ui.py):
a replayed Gradio session hash, sent with every event of the page (the private ones too),
reads and changes nothing of another person's conversation; a tab's state is dropped
after its time-to-live and Gradio keeps a bounded number of session hashes; known user
ids are typed on the page only when the operator allows it. Served for real (uvicorn in a
thread) and driven with gradio_client and raw HTTP, as a browser or an attacker would."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from starlette.routing import Mount

from bot.service.api import create_app
from bot.service.chatservice import ChatService
from bot.service.server import build_app
from bot.service.tabs import TAB_COOKIE
from bot.service.ui import USERS_OFF, mount_ui
from tests.helpers import serve_app, tiny_bot

# what a client sends for each kind of input when it calls an event by hand
DEFAULTS = {"textbox": "", "checkbox": True, "slider": 0.7, "chatbot": [], "state": None, "json": None,
            "dropdown": [], "radio": None, "markdown": None}


def event(url: str, fn_index: int, data: list, session_hash: str, cookie: str | None) -> dict:
    """One Gradio event through the queue as the page sends it (join, then read the event
    stream): its process_completed message. `cookie`: the tab cookie to send, or none."""
    with httpx.Client(base_url=url, timeout=30, cookies={TAB_COOKIE: cookie} if cookie else None) as client:
        r = client.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session_hash,
                                                        "event_data": None, "trigger_id": None})
        assert r.status_code == 200, r.text
        event_id = r.json()["event_id"]
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                        return message
    raise AssertionError(f"event {fn_index} never completed")


def backend_events(url: str) -> list[tuple[int, str, list]]:
    """(fn_index, api_name, inputs a client would send) of every event with a Python function."""
    config = httpx.get(url + "/config", timeout=30).json()
    kinds = {c["id"]: c["type"] for c in config["components"]}
    return [(d["id"], d["api_name"], [DEFAULTS.get(kinds[i]) for i in d["inputs"]])
            for d in config["dependencies"] if d.get("backend_fn") and "dataset" not in {kinds[i] for i in d["inputs"]}]


def summary_of(url: str, session_hash: str, cookie: str | None) -> str:
    """What the page's summary panel (a private event: state in, panels out) shows for a hash."""
    (panels,) = [i for i, name, _ in backend_events(url) if name == "panels_of"]
    return json.dumps(event(url, panels, [None], session_hash, cookie)["output"])


@pytest.fixture
def served():
    service = ChatService(tiny_bot(k=3))
    service.self_test()
    with serve_app(build_app(service)) as url:
        yield url


def victim_chat(url: str):
    """A person's conversation: a request through gradio_client, then 👍 on the first card
    (the page's private vote event, with the person's cookie). (its client, session hash,
    tab cookie, the title it liked)."""
    from gradio_client import Client

    victim = Client(url + "/", verbose=False)
    _, _, items = victim.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
    session_hash, cookie = victim.session_hash, victim.cookies[TAB_COOKIE]
    (like_first,) = [i for i, name, _ in backend_events(url) if name == "on_vote"]  # slot 0, 👍
    voted = event(url, like_first, [True, 0.7, [], None, None], session_hash, cookie)
    assert "Noted: you like" in json.dumps(voted["output"]), voted
    return victim, session_hash, cookie, items[0]["title"]


def test_a_replayed_session_hash_reads_and_changes_nothing(served):
    victim, session_hash, cookie, liked = victim_chat(served)
    try:
        # the probe works: the victim's own browser sees its summary through the private event
        assert liked in summary_of(served, session_hash, cookie)
        # another browser (its own cookie) or a client with no cookie replays the hash on every
        # event of the page: no output names what the victim liked
        for attacker_cookie in ("another-browser-" + "x" * 30, None):
            for fn_index, name, data in backend_events(served):
                out = json.dumps(event(served, fn_index, data, session_hash, attacker_cookie))
                assert liked not in out, (name, out[:300])
            assert "Nothing yet" in summary_of(served, session_hash, attacker_cookie)
        # Gradio's deep link would have dumped the hash's component values: refused
        r = httpx.get(served + "/gradio_api/deep_link", params={"session_hash": session_hash})
        assert r.status_code == 403 and "disabled" in r.json()["error"]
        # the attacks (reset, start, votes, edits among them) left the victim's conversation whole
        assert liked in summary_of(served, session_hash, cookie)
    finally:
        victim.close()


def test_the_page_issues_an_httponly_tab_cookie_and_api_routes_get_none(served):
    page = httpx.get(served + "/", timeout=30)
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(TAB_COOKIE + "=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert len(cookie.split(";")[0].split("=", 1)[1]) >= 43  # 256 random bits
    again = httpx.get(served + "/", cookies={TAB_COOKIE: cookie.split(";")[0].split("=", 1)[1]}, timeout=30)
    assert "set-cookie" not in again.headers  # kept, not replaced
    assert "set-cookie" not in httpx.get(served + "/api/health", timeout=30).headers


def gradio_app(api):
    (mount,) = [r for r in api.routes if isinstance(r, Mount)]
    return mount.app


def test_a_tab_state_is_dropped_after_its_time_to_live_and_session_hashes_are_bounded():
    from gradio_client import Client

    service = ChatService(tiny_bot(k=3))
    service.self_test()
    api = mount_ui(create_app(service), service, 0.7, state_ttl_s=1, sessions_kept=3)
    with serve_app(api) as url:
        c = Client(url + "/", verbose=False)
        try:
            c.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
            holder = gradio_app(api).state_holder
            assert holder.session_data[c.session_hash].state_data  # the tab's conversation is kept
            assert "Nothing yet" not in summary_of(url, c.session_hash, c.cookies[TAB_COOKIE])
            deadline = time.monotonic() + 10
            while holder.session_data[c.session_hash].state_data and time.monotonic() < deadline:
                time.sleep(0.2)  # gradio sweeps expired state every second
            assert not holder.session_data[c.session_hash].state_data
            assert "Nothing yet" in summary_of(url, c.session_hash, c.cookies[TAB_COOKIE])
        finally:
            c.close()
        for n in range(6):  # six more visitors: Gradio keeps the three most recent hashes
            summary_of(url, f"visitor{n}", None)
        assert len(holder.session_data) == 3 and "visitor5" in holder.session_data


@pytest.mark.parametrize("demo_users", [False, True])
def test_known_user_ids_on_the_page_only_when_the_operator_allows_them(demo_users):
    from gradio_client import Client

    service = ChatService(tiny_bot(k=3))
    service.self_test()
    with serve_app(build_app(service, demo_users=demo_users)) as url:
        c = Client(url + "/", verbose=False)
        try:
            h, _, items = c.predict("funny cartoon", "u5", True, 0.7, [], api_name="/chat")
            if demo_users:
                assert items and USERS_OFF not in json.dumps(h[-1]), h[-1]
            else:
                assert h[-1]["content"][0]["text"] == USERS_OFF and not items
        finally:
            c.close()
        anonymous = Client(url + "/", verbose=False)
        try:  # a new visitor is served either way
            assert anonymous.predict("funny cartoon", "", True, 0.7, [], api_name="/chat")[2]
        finally:
            anonymous.close()
