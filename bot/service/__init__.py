"""The service: HTTP API, the Gradio page (`ui.py`, the only gradio import), the turn gate
and request guard, session stores (SQLite, memory, Redis), Ray Serve and the logbook writer."""
