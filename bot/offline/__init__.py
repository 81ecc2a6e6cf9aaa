"""Offline tools: learning from the logbook (`learn.py`) and replaying recorded dialogues
through the bot to score and tune it (`replay.py`). Never imported by the service."""
