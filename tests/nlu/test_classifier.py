"""The intent classifier computes logistic regression's probabilities itself (weights laid out
once, nlu/components.py): they must be scikit-learn's own predict_proba, text for text, on
the trained model."""
import json
import subprocess

import pytest

from bot.config import REPO_ROOT

pytestmark = pytest.mark.slow  # loads the trained model in the Rasa environment

NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"

COMPARE = """
import json
import numpy as np
from nlu.cli import Parser, _quiet_rasa
from nlu.components import TfidfIntentClassifier
from nlu.evaluate import TEST_SETS, load_examples
from nlu.model import latest_model

_quiet_rasa()
parser = Parser(latest_model())
nodes = parser.agent.processor.graph_runner._instantiated_nodes.values()
[classifier] = [n._component for n in nodes if isinstance(getattr(n, "_component", None), TfidfIntentClassifier)]
texts = [text for s in TEST_SETS if s.path.is_file() for text, _, _ in load_examples(s.path)]
texts += ["", "🙏", "ខ្ញុំ", "a" * 5000]
features, _ = classifier._features(texts)
ours, sklearn = classifier._probabilities(features), classifier.model.predict_proba(features)
print(json.dumps({"texts": len(texts), "max_difference": float(np.abs(ours - sklearn).max()),
                  "same_ranking": bool((ours.argsort(axis=1) == sklearn.argsort(axis=1)).all())}))
"""


def test_the_classifiers_probabilities_are_scikit_learns():
    run = subprocess.run([str(NLU_PYTHON), "-c", COMPARE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["texts"] > 500
    assert result["max_difference"] < 1e-12 and result["same_ranking"], result
