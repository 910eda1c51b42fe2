"""Small assertions shared by the tests."""
from __future__ import annotations


def database_contents(repository) -> dict[str, int]:
    """Document count of every collection: compared before and after a rejected request."""
    db = repository.db
    return {name: db[name].count_documents({}) for name in db.list_collection_names()}


def inbound(repository) -> list[dict]:
    return list(repository.messages.find({"direction": "in"}))


def the_inbound(repository) -> dict:
    """The one inbound message stored (fails when there is none or more than one)."""
    [message] = inbound(repository)
    return message
