"""Bot: the chat around the ranking pipeline, in three layers.

- `bot.conversation`: one turn as plain functions (reading a message, the session state,
  the policy, reasons, the reply). Pure: no HTTP, SQL, Gradio or threads.
- `bot.service`: what serves the conversation to people (HTTP API, the Gradio page, limits,
  session stores, Ray serving, writing the logbook). Imports the conversation.
- `bot.offline`: tools run apart from serving (learning from the logbook, replaying recorded
  dialogues to score and tune). Imports the conversation and reads the logbook.

Depends on `fusion` and `retrieval`; `tests/test_layers.py` enforces the directions.
"""
