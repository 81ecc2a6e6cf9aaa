"""The Gradio chat: a thin layer over `ChatService` (the only module importing gradio).

Each browser tab keeps its own `Session` in `gr.State` on the server, bound to the browser
that started it (`Tab`: the digest of the cookie bot/service/tabs.py issues), so a session
hash replayed by someone else finds no conversation, and theirs is left as it was. A tab's
state is dropped after STATE_TTL_S idle seconds, and Gradio keeps at most
GRADIO_SESSIONS session hashes (the oldest go first): memory is bounded whatever the
number of visitors. Known user ids (whose history the reasons cite) are typed only when
the operator allows it (`demo_users`, launch.py --demo-users): the page has no login, so
anyone on it could otherwise read any user's history; the API binds them with user tokens.

The page: a greeting with example requests (bot/service/cards.py), the chat, and the last list as
cards, each with its own 👍 / 👎 that applies the feedback and brings a new list at once
(the page's only thumbs: the chat's messages have none). Every list also stays in the
conversation, compactly (rank, title, year, reason: cards.reply_in_chat), so an earlier
list can still be read after the cards have moved on; "#2" and "the second one" mean the
last list, the one on the cards. Undo, beside Send and Start over, sends the message
"undo" through the chat like a typed one (logged as a turn) and takes back what the bot
took from the last message; it is enabled while there is a turn to take back.
Research and study extras are folded under "Advanced": known user id (with demo_users), α, the editable
summary of what the bot took from the conversation, the scores; in study mode a
participant gate comes first and a 1-5 rating follows each reply.
The `chat` event is Gradio's API endpoint (`api_name="chat"`) for gradio_client: its
inputs and outputs are unchanged by the cards, which follow it in `.then` steps; the
Undo button's is `api_name="undo"` (the chat's inputs less the message; history and items).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import gradio as gr
from fastapi import FastAPI

from bot.service.cards import card_html, chat_list, greeting, reply_in_chat
from bot.conversation.chat import BadInput, last_turn
from bot.service.gate import Busy
from bot.conversation.render import escape, picks
from bot.service.chatservice import ChatService
from bot.conversation.state import Session
from bot.service.tabs import TabCookies, owner_of, TAB_COOKIE

# Cards stack in one column and wrap long titles and names, so a phone (420 px) never
# scrolls sideways; Gradio's own rows already wrap when their columns' min_width does
# not fit. Colours and radii are the theme's variables, so dark mode follows.
CSS = """
.pick { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
        padding: 10px 12px !important; gap: 6px !important; background: var(--background-fill-primary); }
.pick, .pick * { overflow-wrap: anywhere; min-width: 0; }
.pick-head { font-size: 1.05em; }
.pick-rank { font-weight: 700; color: var(--body-text-color-subdued); }
.pick-title { font-weight: 600; }
.pick-facets, .pick-genres { color: var(--body-text-color-subdued); font-size: 0.92em; }
.pick-about { font-size: 0.92em; margin-top: 2px; }
.pick-reason { font-style: italic; margin-top: 4px; }
.pick-votes { flex-wrap: nowrap !important; gap: 8px; }
.pick-votes button { flex: 1 1 0; min-width: 0 !important; }
@media (max-width: 600px) {
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
}
"""

# After a reply, bring the first card into view (on a phone it sits below the chat); not
# after a message the bot could not act on, which leaves the list as it was.
SCROLL_TO_PICKS = """(items) => {
  if (!items || !items.length) return;
  setTimeout(() => {
    const first = document.getElementById('pick-0');
    if (first && first.offsetParent !== null) first.scrollIntoView({behavior: 'smooth', block: 'start'});
  }, 100);
}"""

PICKS_EMPTY = "### Your picks\nThey appear here after your first message."
PICKS = "### Your picks"
UNDO = "undo"  # what the Undo button says in the chat: the word the bot reads as taking back the last message
STATE_TTL_S = 3600  # a tab idle for an hour starts over; API sessions (bot/service/store.py) last 30 days
GRADIO_SESSIONS = 2000  # session hashes Gradio keeps (~160 KB each, its copies of the page's values): ~320 MB
USERS_OFF = ("Known user ids are off on this page: anyone could type one and read what that user rated. "
             "The operator can allow them for a local demo (launch.py --demo-users); the API binds known "
             "users with the user tokens of the pilot's login.")


@dataclass(frozen=True)
class Tab:
    """A tab's state: its session and the browser it belongs to (tabs.owner_of its cookie)."""

    owner: str
    session: Session


def owner(request: gr.Request | None) -> str | None:
    """The owner digest of the browser behind an event; None without the tab cookie."""
    cookies = getattr(request, "cookies", None) if request is not None else None
    return owner_of(cookies.get(TAB_COOKIE)) if cookies is not None else None


def mine(tab: Tab | None, request: gr.Request | None) -> Session | None:
    """The tab's session if this browser started it, else None (as for a new visitor)."""
    who = owner(request)
    return tab.session if tab is not None and who is not None and tab.owner == who else None


def kept(tab: Tab | None, session: Session | None, request: gr.Request | None) -> Tab | None:
    """What the tab stores after an event: `session`, bound to this browser. Another
    browser's tab is left as it was, and a client without the cookie keeps nothing."""
    who = owner(request)
    if who is None or (tab is not None and tab.owner != who):
        return tab
    return None if session is None else Tab(who, session)


def build_ui(service: ChatService, alpha: float, demo_users: bool = False, state_ttl_s: float = STATE_TTL_S
             ) -> gr.Blocks:
    """The page; `demo_users`: the Advanced box may bind any known user id (see the module doc)."""
    bot, study = service.bot, service.study
    catalog = bot.catalog
    genres = sorted(bot.catalog_genres)
    examples = bot.examples()
    hello = [{"role": "assistant", "content": greeting(catalog, examples)}]
    slots = bot.config.k  # one card per item of a reply

    def choices(ids):
        return [(service.bot.label(i), i) for i in ids]

    def item_of(item_id: str):
        """The item as the served catalog holds it now: the catalog changes while serving
        (bot/service/admin.py swaps service.bot), and a new item is in no earlier version."""
        served = service.bot.catalog
        return served.items[served.row(item_id)]

    def resolve(values: list[str]) -> tuple[str, ...]:
        """Dropdown values: item ids, or titles typed by the person (linked to the catalog)."""
        out = []
        for v in values or []:
            if v in service.bot.catalog:
                out.append(v)
                continue
            found = service.bot.linker.find(f'"{v}"')
            if not found:
                raise BadInput(f"no catalog title matches {v!r}")
            out.append(found[0].item_id)
        return tuple(dict.fromkeys(out))

    def panels(session: Session | None, note: str = ""):
        """Updates for: summary, liked, disliked, left-out genres, note."""
        if session is None:
            empty = gr.update(choices=[], value=[])
            return ("Nothing yet.", empty, empty, gr.update(value=[]), note)
        return (service.bot.summary(session),
                gr.update(choices=choices(session.liked_ids), value=list(session.liked_ids)),
                gr.update(choices=choices(session.disliked_ids), value=list(session.disliked_ids)),
                gr.update(value=list(session.banned_genres)),
                note)

    def listed(items: list[dict]) -> list[tuple]:
        """The (rank, item, reason) of a reply's item records, for its list in the chat."""
        return [(it["rank"], item_of(it["item_id"]), it["reason"]) for it in items]

    def undoable(session: Session | None):
        """The Undo button: enabled while the session has a message whose reading can be taken back."""
        return gr.update(interactive=session is not None and last_turn(session) is not None)

    def cards(session: Session | None, items: list[dict] | None):
        """Updates for: the picks heading, then each slot's box and card. `items` are the
        last reply's (the API's item records); none with a list still on screen means the
        message could not be acted on, so the cards stay as they were."""
        items = items or []
        if not items and session is not None and session.last_ids:
            return [gr.skip()] * (1 + 2 * slots)
        boxes, bodies = [], []
        for i in range(slots):
            if i < len(items):
                it = items[i]
                item = item_of(it["item_id"])
                boxes.append(gr.update(visible=True))
                bodies.append(card_html(item, it["rank"], it["reason"], catalog.units))
            else:
                boxes.append(gr.update(visible=False))
                bodies.append("")
        return [PICKS if items else PICKS_EMPTY, *boxes, *bodies]

    def user_of(user_id: str | None) -> str | None:
        """The typed known user id, if the operator allows them (else BadInput)."""
        uid = (user_id or "").strip() or None
        if uid is not None and not demo_users:
            raise BadInput(USERS_OFF)
        return uid

    def chat(message: str, user_id: str, auto_alpha: bool, alpha_value: float, history: list | None,
             tab: Tab | None, request: gr.Request):
        history = list(history or [])
        session = mine(tab, request)
        items: list = []
        try:
            uid = user_of(user_id)
            if session is None:
                if study is not None:
                    raise BadInput("Please enter your participant id and press Start first.")
                session = service.start(uuid.uuid4().hex, uid)
            else:
                session = service.set_user(session, uid)
            turn, items = service.turn(session, message, None if auto_alpha else float(alpha_value))
            reply = reply_in_chat(turn.reply, listed(items))
            session = turn.session
        except (BadInput, Busy) as e:
            reply = str(e)
        history += [{"role": "user", "content": message or ""},
                    {"role": "assistant", "content": reply}]
        return history, "", kept(tab, session, request), items

    def vote(slot: int, kind: str, auto_alpha: bool, alpha_value: float, history: list | None,
             tab: Tab | None, items: list | None, request: gr.Request):
        """👍 / 👎 on the card in `slot`: the feedback, then a new list at once."""
        history = list(history or [])
        session = mine(tab, request)
        if session is None or slot >= len(session.last_ids):
            return history, tab, items
        item_id = session.last_ids[slot]
        label = escape(service.bot.label(item_id))
        history.append({"role": "user", "content": f"{'👍' if kind == 'like' else '👎'} {label}"})
        try:
            session = service.feedback(session, item_id, kind)
            turn, items = service.refresh(session, None if auto_alpha else float(alpha_value),
                                          cause={"item_id": item_id, "kind": kind})
            session = turn.session
            noted = f"Noted: you like {label}." if kind == "like" else f"Noted: not {label}."
            reply = (f"{noted} {picks(len(items), new=True)}, taking it into account:\n{chat_list(listed(items))}"
                     if items else
                     f"{noted} I found nothing new that fits everything you said. Try loosening a constraint.")
        except (BadInput, Busy) as e:
            reply = str(e)
        history.append({"role": "assistant", "content": reply})
        return history, kept(tab, session, request), items

    def voter(slot: int, kind: str):
        def on_vote(auto_alpha: bool, alpha_value: float, history: list | None, tab: Tab | None,
                    items: list | None, request: gr.Request):
            return vote(slot, kind, auto_alpha, alpha_value, history, tab, items, request)
        return on_vote

    def undo(user_id: str, auto_alpha: bool, alpha_value: float, history: list | None,
             tab: Tab | None, request: gr.Request):
        """The Undo button: the message "undo" through `chat`, so it reads and logs like a typed one."""
        history, _, tab, items = chat(UNDO, user_id, auto_alpha, alpha_value, history, tab, request)
        return history, tab, items

    def start(participant_id: str, agreed: bool, user_id: str, tab: Tab | None, request: gr.Request):
        if study is not None and study.consent_text and not agreed:
            return tab, "Please read the consent text and tick the box to continue.", \
                gr.update(visible=True), gr.update(visible=False)
        try:
            session = service.start(uuid.uuid4().hex, user_of(user_id), participant_id)
        except (BadInput, Busy) as e:
            return tab, str(e), gr.update(visible=True), gr.update(visible=False)
        if study is not None and study.consent_text and service.logbook is not None:
            service.logbook.log_event(session.session_id, "consent", {"accepted": True})
        return kept(tab, session, request), "", gr.update(visible=False), gr.update(visible=True)

    def save_edits(liked: list[str], disliked: list[str], banned: list[str], tab: Tab | None,
                   request: gr.Request):
        session = mine(tab, request)
        if session is None:
            return (tab, *panels(session, "Start a conversation first."))
        try:
            session = service.edit(session, resolve(liked), resolve(disliked), tuple(banned or ()))
            note = "Saved: it counts from your next message."
        except BadInput as e:
            note = str(e)
        return (kept(tab, session, request), *panels(session, note))

    def reset(tab: Tab | None, request: gr.Request):
        session = mine(tab, request)
        session = service.reset(session) if session is not None else None
        return (list(hello), "", kept(tab, session, request) if session is not None else tab, [], *panels(session))

    def panels_of(tab: Tab | None, request: gr.Request):
        return panels(mine(tab, request))

    def cards_of(tab: Tab | None, items: list[dict] | None, request: gr.Request):
        return cards(mine(tab, request), items)

    def undoable_of(tab: Tab | None, request: gr.Request):
        return undoable(mine(tab, request))

    def rate(value: str | None, tab: Tab | None, request: gr.Request):
        session = mine(tab, request)
        if session is None or not value:
            return ""
        try:
            service.rate(session, int(value))
            return f"Thanks: you rated the last reply {value}/5."
        except BadInput as e:
            return str(e)

    with gr.Blocks(title=f"Recommender · {catalog.name}") as demo:
        state = gr.State(None, time_to_live=state_ttl_s)  # a Tab, or None for a new visitor
        with gr.Column(visible=study is not None) as gate:
            gr.Markdown(f"## What would you like to {catalog.kind.verb}?")
            if study is not None and study.consent_text:
                gr.Markdown(study.consent_text)
            participant = gr.Textbox(label="Participant id")
            agree = gr.Checkbox(label="I have read and agree to the above",
                                visible=bool(study and study.consent_text))
            start_btn = gr.Button("Start", variant="primary")
            gate_note = gr.Markdown()
        with gr.Column(visible=study is None) as main:
            with gr.Row(equal_height=False):
                with gr.Column(scale=2, min_width=300):
                    # no per-message 👍 / 👎: the cards' are the only thumbs
                    chatbot = gr.Chatbot(value=list(hello), label="Conversation", height=440, elem_id="conversation",
                                         sanitize_html=True, feedback_options=None)
                    message = gr.Textbox(label="Your message", placeholder=examples[0] if examples else "")
                    with gr.Row():
                        send = gr.Button("Send", variant="primary", min_width=100)
                        undo_btn = gr.Button("Undo", min_width=100, interactive=False)
                        clear = gr.Button("Start over", min_width=100)
                    if examples:  # a click puts the request in the message box
                        gr.Examples([[x] for x in examples], inputs=[message], label="Try one")
                    rating = gr.Radio(["1", "2", "3", "4", "5"], label="How good was the last reply? (optional)",
                                      visible=bool(study and study.ask_rating))
                    rating_note = gr.Markdown()
                with gr.Column(scale=3, min_width=300):
                    picks_head = gr.Markdown(PICKS_EMPTY)
                    boxes, bodies, ups, downs = [], [], [], []
                    for i in range(slots):
                        with gr.Column(visible=False, elem_id=f"pick-{i}", elem_classes="pick",
                                       min_width=0) as box:
                            bodies.append(gr.HTML(""))
                            with gr.Row(elem_classes="pick-votes"):
                                ups.append(gr.Button("👍 Like", size="sm", min_width=0, elem_classes="vote-up"))
                                downs.append(gr.Button("👎 Not for me", size="sm", min_width=0,
                                                       elem_classes="vote-down"))
                        boxes.append(box)
            with gr.Accordion("Advanced", open=False):
                with gr.Row(visible=study is None):
                    user = gr.Textbox(label="Known user id (empty = new visitor)", scale=2, min_width=200,
                                      placeholder="e.g. 15", visible=demo_users)
                    auto = gr.Checkbox(value=True, scale=1, min_width=200,
                                       label="Tuned weighting (grows with your likes)")
                    alpha_slider = gr.Slider(0.0, 1.0, value=alpha, step=0.05, scale=2, min_width=200,
                                             label="α when not tuned: weight of your words against taste data (CF)")
                gr.Markdown("### What I took from the conversation")
                summary = gr.Markdown("Nothing yet.")
                liked_dd = gr.Dropdown(label="Liked (remove, or type a title to add)", choices=[],
                                       multiselect=True, allow_custom_value=True)
                disliked_dd = gr.Dropdown(label="Disliked", choices=[], multiselect=True,
                                          allow_custom_value=True)
                banned_dd = gr.Dropdown(label="Left out genres", choices=genres, multiselect=True)
                save = gr.Button("Save changes")
                note = gr.Markdown()
                details = gr.JSON(label="Scores behind the last list: rank, score, parts (text, cf), reason")

        private = {"api_visibility": "private"}
        panel_outputs = [summary, liked_dd, disliked_dd, banned_dd, note]
        card_outputs = [picks_head, *boxes, *bodies]
        chat_inputs = [message, user, auto, alpha_slider, chatbot, state]
        chat_outputs = [chatbot, message, state, details]

        def after(event):
            """The steps after anything that brings a list: cards, summary, Undo, scroll."""
            return (event.then(cards_of, [state, details], card_outputs, **private)
                    .then(panels_of, [state], panel_outputs, **private)
                    .then(undoable_of, [state], [undo_btn], **private)
                    .then(None, [details], None, js=SCROLL_TO_PICKS, **private))

        after(send.click(chat, chat_inputs, chat_outputs, api_name="chat"))
        after(message.submit(chat, chat_inputs, chat_outputs, **private))
        after(undo_btn.click(undo, chat_inputs[1:], [chatbot, state, details], api_name="undo"))
        for i in range(slots):
            for button, kind in ((ups[i], "like"), (downs[i], "dislike")):
                after(button.click(voter(i, kind), [auto, alpha_slider, chatbot, state, details],
                                   [chatbot, state, details], **private))
        start_btn.click(start, [participant, agree, user, state], [state, gate_note, gate, main], api_name="start")
        save.click(save_edits, [liked_dd, disliked_dd, banned_dd, state], [state, *panel_outputs], **private)
        clear.click(reset, [state], [chatbot, message, state, details, *panel_outputs], api_name="reset").then(
            cards_of, [state, details], card_outputs, **private).then(undoable_of, [state], [undo_btn], **private)
        rating.input(rate, [rating, state], [rating_note], **private)
    return demo


def mount_ui(app: FastAPI, service: ChatService, alpha: float, concurrency: int = 4,
             queue_size: int = 16, demo_users: bool = False, state_ttl_s: float = STATE_TTL_S,
             sessions_kept: int = GRADIO_SESSIONS) -> FastAPI:
    """Mount the chat at `/` of `app`; `concurrency` caps Gradio's own workers and
    `queue_size` its queue (the limit shared with the API is `service.gate`). Credentials
    are checked in front of it, for every route alike (bot/service/guard.py), so Gradio's own
    login is not used. The tab cookie (bot/service/tabs.py) is issued around it; a tab's
    state lasts `state_ttl_s` idle seconds and Gradio keeps `sessions_kept` session hashes."""
    demo = build_ui(service, alpha, demo_users, state_ttl_s).queue(default_concurrency_limit=concurrency,
                                                                    max_size=queue_size)
    demo.state_session_capacity = sessions_kept  # read when mounted (gradio StateHolder.set_blocks)
    app.add_middleware(TabCookies)
    return gr.mount_gradio_app(app, demo, path="/", css=CSS)
