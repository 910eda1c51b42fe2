"""Tổng đài 1022 chatbot: the core (messages, pipeline, conversation, repository, worker)."""
