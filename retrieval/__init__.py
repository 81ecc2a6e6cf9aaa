"""Retrieval: catalogs and interactions, the text encoder, and the vector index.

This package knows nothing of collaborative filtering, fusion or chat (those live in
`fusion/` and `bot/`, which depend on it, never the other way round).
"""
