"""The conversation: one turn as plain functions, `Bot.respond(message, session) -> Answer`.

Knows nothing of HTTP, SQL, Gradio, threads or processes (tests/test_layers.py).
"""
