"""The Gradio chat: a thin layer over `ChatService` (the only module importing gradio).

Each browser tab keeps its own `Session` in `gr.State`, so visitors never share state.
Beside the chat: like / dislike for the last list, the editable summary of what the bot
took from the conversation, a reset, and in study mode a participant gate and 1-5 ratings.
The `chat` event is Gradio's API endpoint (`api_name="chat"`) for gradio_client.
"""

from __future__ import annotations

import uuid

import gradio as gr
from fastapi import FastAPI

from bot.chat import BadInput
from bot.gate import Busy
from bot.service import ChatService
from bot.session import Session

INTRO = ("Describe what you would like to watch, over as many messages as you like. Name films "
         "you loved or hated, say \"more like #2\" or \"show me more\". Each reply lists new "
         "picks with the reason they were ranked.")


def build_ui(service: ChatService, alpha: float) -> gr.Blocks:
    bot, study = service.bot, service.study
    genres = sorted(bot.catalog_genres)

    def choices(ids):
        return [(bot.label(i), i) for i in ids]

    def resolve(values: list[str]) -> tuple[str, ...]:
        """Dropdown values: item ids, or titles typed by the person (linked to the catalog)."""
        out = []
        for v in values or []:
            if v in bot.catalog:
                out.append(v)
                continue
            found = bot.linker.find(f'"{v}"')
            if not found:
                raise BadInput(f"no catalog title matches {v!r}")
            out.append(found[0].item_id)
        return tuple(dict.fromkeys(out))

    def panels(session: Session | None, note: str = ""):
        """Updates for: summary, liked, disliked, left-out genres, like list, dislike list, note."""
        if session is None:
            empty = gr.update(choices=[], value=[])
            return ("Nothing yet.", empty, empty, gr.update(value=[]), empty, empty, note)
        last = choices(session.last_ids)
        return (bot.summary(session),
                gr.update(choices=choices(session.liked_ids), value=list(session.liked_ids)),
                gr.update(choices=choices(session.disliked_ids), value=list(session.disliked_ids)),
                gr.update(value=list(session.banned_genres)),
                gr.update(choices=last, value=[i for i in session.last_ids if i in session.liked_ids]),
                gr.update(choices=last, value=[i for i in session.last_ids if i in session.disliked_ids]),
                note)

    def chat(message: str, user_id: str, auto_alpha: bool, alpha_value: float, history: list | None,
             session: Session | None):
        history = list(history or [])
        uid = (user_id or "").strip() or None
        items: list = []
        try:
            if session is None:
                if study is not None:
                    raise BadInput("Please enter your participant id and press Start first.")
                session = service.start(uuid.uuid4().hex, uid)
            else:
                session = service.set_user(session, uid)
            turn, items = service.turn(session, message, None if auto_alpha else float(alpha_value))
            reply, session = turn.reply, turn.session
        except (BadInput, Busy) as e:
            reply = str(e)
        history += [{"role": "user", "content": message or ""},
                    {"role": "assistant", "content": reply}]
        return history, "", session, items

    def start(participant_id: str, agreed: bool, user_id: str):
        if study is not None and study.consent_text and not agreed:
            return None, "Please read the consent text and tick the box to continue.", \
                gr.update(visible=True), gr.update(visible=False)
        try:
            session = service.start(uuid.uuid4().hex, (user_id or "").strip() or None, participant_id)
        except (BadInput, Busy) as e:
            return None, str(e), gr.update(visible=True), gr.update(visible=False)
        if study is not None and study.consent_text and service.logbook is not None:
            service.logbook.log_event(session.session_id, "consent", {"accepted": True})
        return session, "", gr.update(visible=False), gr.update(visible=True)

    def on_feedback(selected: list[str], session: Session | None, kind: str):
        if session is None:
            return (session, *panels(session))
        current = set(session.liked_ids if kind == "like" else session.disliked_ids)
        chosen = set(selected or [])
        for item_id in session.last_ids:
            if item_id in chosen and item_id not in current:
                session = service.feedback(session, item_id, kind)
            elif item_id in current and item_id not in chosen:
                session = service.feedback(session, item_id, "unlike")
        return (session, *panels(session, "Noted: it counts from your next message."))

    def save_edits(liked: list[str], disliked: list[str], banned: list[str], session: Session | None):
        if session is None:
            return (session, *panels(session, "Start a conversation first."))
        try:
            session = service.edit(session, resolve(liked), resolve(disliked), tuple(banned or ()))
            note = "Saved: it counts from your next message."
        except BadInput as e:
            note = str(e)
        return (session, *panels(session, note))

    def reset(session: Session | None):
        session = service.reset(session) if session is not None else None
        return ([], "", session, [], *panels(session))

    def rate(value: str | None, session: Session | None):
        if session is None or not value:
            return ""
        try:
            service.rate(session, int(value))
            return f"Thanks: you rated the last reply {value}/5."
        except BadInput as e:
            return str(e)

    def reply_vote(data: gr.LikeData, session: Session | None):
        if session is not None and service.logbook is not None:
            service.logbook.log_event(session.session_id, "reply_vote",
                                      {"index": data.index, "liked": data.liked})

    with gr.Blocks(title=f"Recommender · {bot.catalog.name}") as demo:
        state = gr.State(None)
        gr.Markdown(f"## What would you like to watch?\n{INTRO}")
        with gr.Column(visible=study is not None) as gate:
            if study is not None and study.consent_text:
                gr.Markdown(study.consent_text)
            participant = gr.Textbox(label="Participant id")
            agree = gr.Checkbox(label="I have read and agree to the above",
                                visible=bool(study and study.consent_text))
            start_btn = gr.Button("Start", variant="primary")
            gate_note = gr.Markdown()
        with gr.Column(visible=study is None) as main:
            with gr.Row():
                user = gr.Textbox(label="Known user id (empty = new visitor)", scale=2,
                                  placeholder="e.g. 15", visible=study is None)
                auto = gr.Checkbox(value=True, scale=1, visible=study is None,
                                   label="Tuned weighting (grows with your likes)")
                alpha_slider = gr.Slider(0.0, 1.0, value=alpha, step=0.05, scale=2, visible=study is None,
                                         label="α when not tuned: weight of your words against taste data (CF)")
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Conversation", height=520, sanitize_html=True,
                                         feedback_options=("Like", "Dislike"))
                    message = gr.Textbox(label="Your message", placeholder="a funny animated movie for kids")
                    with gr.Row():
                        send = gr.Button("Send", variant="primary")
                        clear = gr.Button("Start over")
                    rating = gr.Radio(["1", "2", "3", "4", "5"], label="How good was the last reply? (optional)",
                                      visible=bool(study and study.ask_rating))
                    rating_note = gr.Markdown()
                with gr.Column(scale=2):
                    gr.Markdown("### Your feedback on the last list")
                    likes = gr.CheckboxGroup(label="I like these", choices=[])
                    dislikes = gr.CheckboxGroup(label="Not for me", choices=[])
                    gr.Markdown("### What I took from the conversation")
                    summary = gr.Markdown("Nothing yet.")
                    liked_dd = gr.Dropdown(label="Liked (remove, or type a title to add)", choices=[],
                                           multiselect=True, allow_custom_value=True)
                    disliked_dd = gr.Dropdown(label="Disliked", choices=[], multiselect=True,
                                              allow_custom_value=True)
                    banned_dd = gr.Dropdown(label="Left out genres", choices=genres, multiselect=True)
                    save = gr.Button("Save changes")
                    note = gr.Markdown()
            with gr.Accordion("Scores behind the last reply", open=False):
                details = gr.JSON(label="items: rank, score, parts (text, cf), reason")

        panel_outputs = [summary, liked_dd, disliked_dd, banned_dd, likes, dislikes, note]
        chat_inputs = [message, user, auto, alpha_slider, chatbot, state]
        chat_outputs = [chatbot, message, state, details]
        send.click(chat, chat_inputs, chat_outputs, api_name="chat").then(
            panels, [state], panel_outputs, api_name=False)
        message.submit(chat, chat_inputs, chat_outputs, api_name=False).then(
            panels, [state], panel_outputs, api_name=False)
        start_btn.click(start, [participant, agree, user], [state, gate_note, gate, main], api_name="start")
        likes.input(lambda sel, s: on_feedback(sel, s, "like"), [likes, state], [state, *panel_outputs],
                    api_name=False)
        dislikes.input(lambda sel, s: on_feedback(sel, s, "dislike"), [dislikes, state],
                       [state, *panel_outputs], api_name=False)
        save.click(save_edits, [liked_dd, disliked_dd, banned_dd, state], [state, *panel_outputs],
                   api_name=False)
        clear.click(reset, [state], [chatbot, message, state, details, *panel_outputs], api_name="reset")
        rating.input(rate, [rating, state], [rating_note], api_name=False)
        chatbot.like(reply_vote, [state], None, api_name=False)
    return demo


def mount_ui(app: FastAPI, service: ChatService, alpha: float, concurrency: int = 4,
             queue_size: int = 16) -> FastAPI:
    """Mount the chat at `/` of `app`; `concurrency` caps Gradio's own workers and
    `queue_size` its queue (the limit shared with the API is `service.gate`). Credentials
    are checked in front of it, for every route alike (bot/guard.py), so Gradio's own
    login is not used."""
    demo = build_ui(service, alpha).queue(default_concurrency_limit=concurrency, max_size=queue_size)
    return gr.mount_gradio_app(app, demo, path="/")
