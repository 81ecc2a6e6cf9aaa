"""Bot: conversation state, understanding a turn, replies with reasons, UI and HTTP API.

Depends on `fusion` and `retrieval`. Only `bot/ui.py` imports gradio.
"""
