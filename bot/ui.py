"""The Gradio chat: a thin layer over `Bot.respond` (the only module importing gradio).

Each browser tab keeps its own `Session` in `gr.State`, so visitors never share state.
The `chat` event is also Gradio's API endpoint (`api_name="chat"`) for gradio_client.
"""

from __future__ import annotations

import uuid

import gradio as gr
from fastapi import FastAPI

from bot.api import turn_json
from bot.chat import BadInput, Bot, with_user
from bot.session import Session

INTRO = ("Describe what you would like to watch, over as many messages as you like. "
         "Each reply lists new picks with the reason they were ranked.")


def build_ui(bot: Bot, alpha: float) -> gr.Blocks:
    def chat(message: str, user_id: str, alpha_value: float, history: list | None,
             session: Session | None):
        history = list(history or [])
        uid = (user_id or "").strip() or None
        items: list = []
        try:
            if session is None:
                session = bot.new_session(uuid.uuid4().hex, uid)
            elif uid != session.user_id:
                bot.new_session(session.session_id, uid)  # validates the id
                session = with_user(session, uid)
            turn = bot.respond(message, session, alpha=float(alpha_value))
            reply, session, items = turn.reply, turn.session, turn_json(turn)["items"]
        except BadInput as e:
            reply = str(e)
        history += [{"role": "user", "content": message or ""},
                    {"role": "assistant", "content": reply}]
        return history, "", session, items

    def reset():
        return [], "", None, []

    with gr.Blocks(title=f"Recommender · {bot.catalog.name}") as demo:
        gr.Markdown(f"## What would you like to watch?\n{INTRO}")
        with gr.Row():
            user = gr.Textbox(label="Known user id (empty = new visitor)", scale=2,
                              placeholder="e.g. 15")
            alpha_slider = gr.Slider(0.0, 1.0, value=alpha, step=0.05, scale=2,
                                     label="α: weight of your words against taste data (CF)")
        chatbot = gr.Chatbot(label="Conversation", height=520, sanitize_html=True)
        state = gr.State(None)
        message = gr.Textbox(label="Your message", placeholder="a funny animated movie for kids")
        with gr.Row():
            send = gr.Button("Send", variant="primary")
            clear = gr.Button("Start over")
        with gr.Accordion("Scores behind the last reply", open=False):
            details = gr.JSON(label="items: rank, score, parts (text, cf), reason")
        inputs = [message, user, alpha_slider, chatbot, state]
        outputs = [chatbot, message, state, details]
        send.click(chat, inputs, outputs, api_name="chat")
        message.submit(chat, inputs, outputs, api_name=False)
        clear.click(reset, None, outputs, api_name="reset")
    return demo


def mount_ui(app: FastAPI, bot: Bot, alpha: float) -> FastAPI:
    return gr.mount_gradio_app(app, build_ui(bot, alpha), path="/")
