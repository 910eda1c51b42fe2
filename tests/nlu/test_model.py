"""nlu/model.py: the fingerprint names exactly what the trained model depends on."""
from nlu.model import MODEL_INPUTS, REPO_ROOT, fingerprint


def test_fingerprint_covers_config_training_data_places_and_component_code():
    names = {p.relative_to(REPO_ROOT).as_posix() for p in MODEL_INPUTS}
    assert names == {"config.yml", "data/nlu.yml", "data/places.yml",
                     "nlu/components.py", "nlu/text.py", "nlu/entities.py"}


def test_held_out_set_is_not_part_of_the_fingerprint():
    assert not any("heldout" in p.as_posix() for p in MODEL_INPUTS)
    assert len(fingerprint()) == 12
