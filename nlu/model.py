"""Where the trained NLU model lives and whether it is current. No rasa import: cheap to call."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import List, Optional

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO_ROOT / "var" / "models"


CONFIG = REPO_ROOT / "config.yml"
TRAINING_DATA = REPO_ROOT / "data" / "nlu.yml"
TRAINING_FILES = [TRAINING_DATA]
PLACES = REPO_ROOT / "data" / "places.yml"
# Exactly what the trained model depends on: the held-out set (data/heldout/) and other data
# files must not cause a retraining.
MODEL_INPUTS = [CONFIG, *TRAINING_FILES, PLACES, *(REPO_ROOT / "nlu" / name for name in
                                                 ("components.py", "text.py", "entities.py"))]


def _inputs() -> List[Path]:
    return [f for f in MODEL_INPUTS if f.is_file()]


def fingerprint() -> str:
    """Short sha256 of everything that changes what training produces."""
    digest = hashlib.sha256()
    for path in _inputs():
        # The name goes in too, so moving an example file to another name counts as a change.
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def model_path() -> Path:
    return MODEL_DIR / f"nlu-{fingerprint()}.tar.gz"


def latest_model() -> Optional[Path]:
    """The model for the current inputs, else the newest one trained, else None."""
    current = model_path()
    if current.is_file():
        return current
    models = sorted(MODEL_DIR.glob("nlu-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None
