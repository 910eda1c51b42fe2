"""Rasa graph components of the project (loaded by Rasa from config.yml)."""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.entities import EntityExtractor, load_places
from nlu.model import REPO_ROOT
from nlu.text import with_plain_copy

log = logging.getLogger(__name__)

# A yes has no negation or hesitation in it: "đúng rồi nhưng khoan gửi" is no affirm, whatever
# the bag of words says (at the summary a wrong yes files a case the citizen did not want).
# Matched on the normalizer's words; bare "dung" (đúng, đừng or dừng) is left to the model.
_NOT_A_YES = re.compile(r"(?<!\w)(khoan|đợi|chờ|từ từ|tu tu|chưa|chua|đừng|không|khong|sai|hủy|huy|"
                        r"thôi|thoi|dừng lại|ngưng|ngung|stop|wait|nhưng|nhung|để tui|để em|"
                        r"de tui|de em|doi chut|doi xiu|cho chut|cho xiu)(?!\w)")


# Registered as a tokenizer-type step only so that the default recipe runs it, in pipeline order,
# both while training and at inference; it does not split anything (it is no Tokenizer subclass).
@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class VietnameseNormalizer(GraphComponent):
    """Rewrites the message text (nlu.text.with_plain_copy): NFC, lower case, one tone-mark
    placement, no zero-width characters, teencode expanded, punctuation dropped, then a
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
                # Punctuation is dropped, so a leading "/" (Rasa's "/intent" command) is too: a
                # citizen must not be able to choose the intent that way.
                message.set(TEXT, with_plain_copy(text), add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class VietnameseEntityExtractor(GraphComponent, EntityExtractorMixin):
    """district, commune, phone, case_code and time (nlu/entities.py), found on the citizen's own
    text: put it first in the pipeline, before the normalizer rewrites the text. The places table
    is read at training time and kept in the model."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"places": "data/places.yml"}

    def __init__(self, config: Dict[str, Any], places: Optional[dict], model_storage: ModelStorage,
                 resource: Resource):
        self.config = {**self.get_default_config(), **config}
        self.extractor = EntityExtractor(places) if places else None
        self._model_storage, self._resource = model_storage, resource

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> VietnameseEntityExtractor:
        return cls(config, None, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        places = load_places(REPO_ROOT / self.config["places"])
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "places.json").write_text(json.dumps(places, ensure_ascii=False), "utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> VietnameseEntityExtractor:
        with model_storage.read_from(resource) as directory:
            places = json.loads((directory / "places.json").read_text("utf-8"))
        return cls(config, places, model_storage, resource)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and self.extractor:
                found = [{**e, "extractor": "VietnameseEntityExtractor"}
                         for e in self.extractor.extract(text)]
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TfidfIntentClassifier(GraphComponent, IntentClassifier):
    """Character n-gram and word TF-IDF of the normalized text, then logistic regression
    (scikit-learn). Needs no tokenizer or featurizer, and no TensorFlow. Saved as JSON and a
    NumPy archive: nothing in the model file runs code when loaded (unlike pickle), and it loads
    in milliseconds (skops took 7 s to import next to TensorFlow)."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"char_ngrams": [1, 5], "word_ngrams": [1, 2], "C": 10.0, "class_weight": "balanced",
                "ranking_length": 10}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource):
        self.config = {**self.get_default_config(), **config}
        self._model_storage, self._resource = model_storage, resource
        self.vectorizers: List[Any] = []
        self.model: Any = None

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> TfidfIntentClassifier:
        return cls(config, model_storage, resource)

    def _new_vectorizers(self, vocabularies: Optional[List[List[str]]] = None) -> List[Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        chars, words = vocabularies or (None, None)
        return [TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.config["char_ngrams"]),
                                sublinear_tf=True, vocabulary=chars),
                TfidfVectorizer(analyzer="word", ngram_range=tuple(self.config["word_ngrams"]),
                                token_pattern=r"\S+", sublinear_tf=True, vocabulary=words)]

    def _features(self, texts: List[str]) -> Tuple[Any, Any]:
        """Both vectorizers' features side by side, and the word features alone."""
        from scipy.sparse import hstack

        chars, words = (v.transform(texts) for v in self.vectorizers)
        return hstack([chars, words]).tocsr(), words

    def train(self, training_data: TrainingData) -> Resource:
        import numpy as np
        from scipy.sparse import hstack
        from sklearn.linear_model import LogisticRegression

        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        texts = [m.get(TEXT) for m in examples]
        self.vectorizers = self._new_vectorizers()
        features = hstack([v.fit_transform(texts) for v in self.vectorizers]).tocsr()
        self.model = LogisticRegression(C=self.config["C"], class_weight=self.config["class_weight"],
                                        max_iter=2000)
        self.model.fit(features, [m.get(INTENT) for m in examples])
        self._prepare()
        with self._model_storage.write_to(self._resource) as directory:
            vocabularies = [sorted(v.vocabulary_, key=v.vocabulary_.get) for v in self.vectorizers]
            (directory / "vocabularies.json").write_text(json.dumps(vocabularies, ensure_ascii=False),
                                                         "utf-8")
            np.savez(directory / "weights.npz", classes=self.model.classes_.astype(str),
                     coef=self.model.coef_, intercept=self.model.intercept_,
                     **{f"idf{i}": v.idf_ for i, v in enumerate(self.vectorizers)})
        return self._resource

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> TfidfIntentClassifier:
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        component = cls(config, model_storage, resource)
        with model_storage.read_from(resource) as directory:
            vocabularies = json.loads((directory / "vocabularies.json").read_text("utf-8"))
            with np.load(directory / "weights.npz", allow_pickle=False) as weights:
                component.vectorizers = component._new_vectorizers(vocabularies)
                for i, vectorizer in enumerate(component.vectorizers):
                    vectorizer.idf_ = weights[f"idf{i}"]
                component.model = LogisticRegression()
                component.model.classes_ = weights["classes"]
                component.model.coef_ = weights["coef"]
                component.model.intercept_ = weights["intercept"]
        component._prepare()
        return component

    def _prepare(self) -> None:
        # LogisticRegression.predict_proba multiplies by coef_.T, which is not C-contiguous: the
        # sparse product copied the whole weight matrix for every text (a tenth of a parse).
        import numpy as np

        self._weights = np.ascontiguousarray(self.model.coef_.T)

    def _probabilities(self, features: Any) -> Any:
        """LogisticRegression.predict_proba (multinomial: the softmax of the decision function),
        computed the same way, with the weights laid out once."""
        from sklearn.utils.extmath import safe_sparse_dot, softmax

        return softmax(safe_sparse_dot(features, self._weights, dense_output=True) + self.model.intercept_)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            features, words = self._features([text])
            probabilities = self._probabilities(features)[0]
            # With no word the model has seen (Khmer script, emoji, a stray code), only the
            # padding spaces of the character n-grams are left, and they make any text look like
            # a short "ok": such a guess gets no confidence, so the fallback answers.
            if not words.nnz:
                probabilities = probabilities * 0.0
            ranking = sorted(zip(self.model.classes_, probabilities), key=lambda p: -p[1])
            if ranking[0][0] == "affirm" and _NOT_A_YES.search(text):
                rest = ranking[1:]
                total = sum(p for _, p in rest) or 1.0
                ranking = [(name, p / total) for name, p in rest] + [("affirm", 0.0)]
            ranking = [{"name": str(name), "confidence": float(p)} for name, p in ranking]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[: self.config["ranking_length"]],
                        add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
