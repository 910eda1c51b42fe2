"""Rasa graph components of the project (loaded by Rasa from config.yml)."""
from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.text import with_plain_copy


# Registered as a tokenizer-type step only so that the default recipe runs it, in pipeline order,
# both while training and at inference; it does not split anything (it is no Tokenizer subclass).
@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class VietnameseNormalizer(GraphComponent):
    """Rewrites the message text: NFC, lower case, no zero-width characters, single spaces, then a
    diacritics-free copy of the marked words, so typing with or without accents looks alike."""

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> VietnameseNormalizer:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._rewrite(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._rewrite(messages)
        return messages

    @staticmethod
    def _rewrite(messages: List[Message]) -> None:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                # Rasa takes a leading "/" as a command ("/report" -> report, confidence 1.0):
                # a citizen must not be able to choose the intent that way.
                message.set(TEXT, with_plain_copy(text).lstrip("/ "), add_to_output=True)
