"""The Gradio app over the tiny bot, served for real on a free port and driven with
gradio_client: two clients at once never see each other's state; reset; study gate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.service.logbook import Logbook
from bot.service.chatservice import ChatService
from bot.service.study import Arm, StudyConfig
from bot.service.server import build_app
from tests.helpers import serve_app, tiny_bot


def serve(service: ChatService, credentials: tuple[str, str] | None = None):
    """The app launch.py builds around `service`, served for real (uvicorn in a thread) on a free port."""
    service.self_test()
    return serve_app(build_app(service, alpha=0.7, credentials=credentials))


@pytest.fixture
def app(tmp_path):
    book = Logbook(tmp_path / "ui.sqlite")
    with serve(ChatService(tiny_bot(k=3), book)) as url:
        yield url, book


def test_two_clients_at_once_keep_their_own_sessions(app):
    from gradio_client import Client

    url, book = app

    def drive(first: str, second: str):
        c = Client(url + "/", verbose=False)
        h, _, items1 = c.predict(first, "", True, 0.7, [], api_name="/chat")
        h, _, items2 = c.predict(second, "", True, 0.7, h, api_name="/chat")
        return [i["item_id"] for i in items1], [i["item_id"] for i in items2], h

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(drive, "funny cartoon for kids", "show me more")
        b = pool.submit(drive, "dark crime thriller", "show me more")
        (a1, a2, ha), (b1, b2, hb) = a.result(), b.result()
    # each client's second page only avoids its own first page
    assert not set(a1) & set(a2) and not set(b1) & set(b2)
    assert all(int(i[1:]) < 6 for i in a1) and all(int(i[1:]) >= 6 for i in b1)
    assert len(ha) == 4 and len(hb) == 4
    sessions = book.sessions()
    assert len(sessions) == 2 and all(len(s["turns"]) == 2 for s in sessions)


def test_reset_forgets_the_conversation(app):
    from gradio_client import Client

    url, _ = app
    c = Client(url + "/", verbose=False)
    h, _, first = c.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
    c.predict(api_name="/reset")
    h, _, again = c.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
    assert [i["item_id"] for i in again] == [i["item_id"] for i in first]


def test_study_gate_requires_participant(tmp_path):
    from gradio_client import Client

    book = Logbook(tmp_path / "study.sqlite")
    study = StudyConfig(arms=(Arm("a", alpha=1.0), Arm("b", alpha=0.2)), seed=1, consent_text=None)
    with serve(ChatService(tiny_bot(k=3), book, study)) as url:
        c = Client(url + "/", verbose=False)
        h, _, items = c.predict("cartoon", "", True, 0.7, [], api_name="/chat")
        assert items == [] and "participant id" in h[-1]["content"][0]["text"]
        c.predict("p-42", False, "", api_name="/start")
        h, _, items = c.predict("cartoon", "", True, 0.7, [], api_name="/chat")
        assert len(items) == 3
        (session,) = book.sessions()
        assert session["participant_id"] == "p-42" and session["arm"] in {"a", "b"}


def test_scripted_conversation_through_gradio_client(app):
    """Typo'd title, negation, "more like #2", a dislike taking its near-duplicates along,
    no repeats, and reset — the way a person would type it."""
    from gradio_client import Client

    url, book = app
    c = Client(url + "/", verbose=False)

    def say(message, history):
        history, _, items = c.predict(message, "", True, 0.7, history, api_name="/chat")
        return history, items

    h, first = say("I loved midnight hiest, something similar", [])
    assert "Noted: you like Midnight Heist (1990)" in h[-1]["content"][0]["text"]
    assert "m6" not in [i["item_id"] for i in first]
    h, second = say("more like #2, no horror", h)
    assert not any("Horror" in i["genres"] for i in second)
    h, third = say("not the first one", h)
    shown = [i["item_id"] for i in first + second + third]
    assert len(shown) == len(set(shown))  # nothing shown twice
    (session,) = [s for s in book.sessions() if len(s["turns"]) == 3]
    assert [t["message"] for t in session["turns"]][1] == "more like #2, no horror"
    c.predict(api_name="/reset")
    h, again = say("I loved midnight hiest, something similar", [])
    assert [i["item_id"] for i in again] == [i["item_id"] for i in first]


def test_gradio_client_through_auth(tmp_path):
    """With credentials, the chat answers gradio_client only with the Basic header."""
    import base64

    from gradio_client import Client

    with serve(ChatService(tiny_bot(k=3)), credentials=("pilot", "s3cret")) as url:
        assert httpx.get(url + "/", timeout=5).status_code == 401
        header = {"Authorization": "Basic " + base64.b64encode(b"pilot:s3cret").decode()}
        c = Client(url + "/", verbose=False, headers=header)
        h, _, items = c.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
        assert len(items) == 3 and len(h) == 2


def test_the_chat_shares_the_turn_limit_with_the_api():
    """While the API holds the only turn slot, the chat says it is busy instead of piling up."""
    from gradio_client import Client

    from bot.service.gate import TurnGate

    gate = TurnGate(limit=1, queue=0)
    with serve(ChatService(tiny_bot(k=3), gate=gate)) as url:
        c = Client(url + "/", verbose=False)
        with gate.turn():  # an API turn in flight
            h, _, items = c.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
        assert items == [] and "busy" in h[-1]["content"][0]["text"]
        h, _, items = c.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
        assert len(items) == 3
        assert gate.stats().peak_active == 1 and gate.stats().rejected == 1


def text_of(message: dict) -> str:
    """A chat message's text as gradio_client returns it (a list of parts) or as built (a string)."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def test_earlier_lists_stay_in_the_conversation(app):
    """After two requests the history holds both lists, each in its own assistant message,
    compactly: rank, title with year and the reason on one line (the cards show the last)."""
    from gradio_client import Client

    url, _ = app
    c = Client(url + "/", verbose=False)
    h, _, first = c.predict("funny cartoon for kids", "", True, 0.7, [], api_name="/chat")
    h, _, second = c.predict("show me more", "", True, 0.7, h, api_name="/chat")
    assert [m["role"] for m in h] == ["user", "assistant"] * 2
    assert not {i["item_id"] for i in first} & {i["item_id"] for i in second}
    for message, items in ((h[1], first), (h[3], second)):
        text = text_of(message)
        assert text.startswith("Noted:") or text.startswith("Here")
        for it in items:
            assert f"{it['rank']}. **{it['title']} ({it['year']})** — _{it['reason']}_" in text
    assert f"**{first[0]['title']} (" not in text_of(h[3])  # the first list is in the earlier message only


def test_the_chat_messages_have_no_thumbs():
    """The cards' 👍 / 👎 are the only thumbs: no like handler on the Chatbot, none shown."""
    from bot.service.ui import build_ui

    config = build_ui(ChatService(tiny_bot(k=3)), 0.7).get_config_file()
    (chatbot,) = [c for c in config["components"] if c["type"] == "chatbot"]
    assert not chatbot["props"].get("likeable") and not chatbot["props"].get("feedback_options")
    triggers = {t[1] for d in config["dependencies"] for t in d["targets"]}
    assert "like" not in triggers and "click" in triggers


def test_the_undo_button_sends_undo_through_the_chat(app):
    """Undo says "undo" in the chat: the reply takes back the last message, and the turn is
    logged like a typed one. The button is enabled while there is a message to take back."""
    from gradio_client import Client

    from bot.service.ui import build_ui

    url, book = app
    c = Client(url + "/", verbose=False)
    h, _, _ = c.predict("funny cartoon", "", True, 0.7, [], api_name="/chat")
    h, _, _ = c.predict("I loved midnight hiest", "", True, 0.7, h, api_name="/chat")
    h, items = c.predict("", True, 0.7, h, api_name="/undo")
    assert len(h) == 6 and h[4]["role"] == "user" and text_of(h[4]) == "undo"
    assert text_of(h[5]).startswith("Taken back: what your message 'I loved midnight hiest' asked for.")
    # a new list, in the chat too (the three picks of the tiny catalog not shown yet)
    assert len(items) == 3 and f"1. **{items[0]['title']}" in text_of(h[5])
    (session,) = book.sessions()
    assert [t["message"] for t in session["turns"]] == ["funny cartoon", "I loved midnight hiest", "undo"]

    import gradio as gr

    from bot.service.tabs import TAB_COOKIE, owner_of
    from bot.service.ui import Tab

    service = ChatService(tiny_bot(k=3))
    demo = build_ui(service, 0.7)
    (undoable,) = {f.fn for f in demo.fns.values() if f.fn is not None and f.fn.__name__ == "undoable_of"}
    browser = gr.Request(cookies={TAB_COOKIE: "the-browser's-cookie"})
    session = service.start("s", None)
    tab = Tab(owner_of("the-browser's-cookie"), session)
    assert undoable(None, browser)["interactive"] is False and undoable(tab, browser)["interactive"] is False
    turn, _ = service.turn(session, "funny cartoon for kids")
    assert undoable(Tab(tab.owner, turn.session), browser)["interactive"] is True
    # another browser's event on this tab: nothing to take back there
    assert undoable(Tab(tab.owner, turn.session), gr.Request(cookies={TAB_COOKIE: "another"}))["interactive"] is False
    turn, _ = service.turn(turn.session, "undo")  # nothing left to take back
    assert undoable(Tab(tab.owner, turn.session), browser)["interactive"] is False
