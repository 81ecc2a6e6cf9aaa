"""Fusion: collaborative-filtering scores and their fusion with text scores.

Depends on `retrieval` (records, retriever); knows nothing of chat or UI.
"""
