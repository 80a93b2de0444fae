"""Intent and category from the meaning of a query: classifiers on e5 embeddings.

Numpy only, over the bundled model's query embedding: a softmax regression for the kind of
request (rent, buy, sell, swap), and for the category the average of a softmax regression and
a nearest-neighbour vote over the training lines' own embeddings (the regression generalises
across phrasings, the neighbours keep the many item names it blurs; together they beat either
on held-out items and on the query sets — docs/ai.md, "Search with intent"). They are trained on
``data/intent_train.jsonl`` — phrasings and item names written for training, never the
evaluation sets — by ``python -m lago_core.ai.classifier`` into ``data/intent_model.npz``
(the weights, the neighbours as int8, the embedding model's name — a different model means
retrain — and the training file's hash, so a test sees a stale model). Training is seeded and
deterministic. The parser asks them only what its rules leave open (lago_core/ai/intent.py,
:func:`parse_intent`).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from lago_core.ai.embeddings import LOCAL_MODEL, Vector, embed_local
from lago_core.ai.intent import CATEGORIES, INTENTS

__all__ = ["MODEL_FILE", "TRAIN_FILE", "Classifier", "classifier", "train", "train_file_hash"]

DATA = Path(__file__).parent / "data"
TRAIN_FILE = DATA / "intent_train.jsonl"
MODEL_FILE = DATA / "intent_model.npz"


def _softmax(z: Vector) -> Vector:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: Vector = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return out


# The category's nearest neighbours: how many vote, and the temperature of their similarity
# weights (the nearest dominate). Chosen by 5-fold cross-validation over the training items
# (an item's lines in one fold), then checked on every query set.
NEIGHBOURS = 10
NEIGHBOUR_TEMPERATURE = 0.02


def _fit(
    x: Vector, y: np.ndarray[Any, Any], classes: int, l2: float = 1e-4
) -> tuple[Vector, Vector]:
    """Multinomial logistic regression, L2-regularised, by full-batch gradient descent."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((x.shape[1], classes)) * 0.01).astype(np.float32)
    b = np.zeros(classes, dtype=np.float32)
    onehot = np.eye(classes, dtype=np.float32)[y]
    # Embeddings of one model sit in a narrow cone: centre them so the weights need not.
    for _ in range(2000):
        p = _softmax(x @ w + b)
        grad = p - onehot
        w -= 8.0 * (x.T @ grad / len(x) + l2 * w)
        b -= 8.0 * grad.mean(axis=0)
    return w, b


class Classifier:
    def __init__(self, arrays: dict[str, Any]) -> None:
        self.mean = arrays["mean"].astype(np.float32)
        self.intent_w = arrays["intent_w"].astype(np.float32)
        self.intent_b = arrays["intent_b"].astype(np.float32)
        self.category_w = arrays["category_w"].astype(np.float32)
        self.category_b = arrays["category_b"].astype(np.float32)
        # Stored as int8 (unit vectors × 127): a quarter of the size, the same neighbours.
        self.exemplars = arrays["exemplars"].astype(np.float32) / 127.0
        self.exemplar_labels = arrays["exemplar_labels"].astype(np.int64)

    def neighbours(self, vector: Vector) -> Vector:
        """Category probabilities by a similarity-weighted vote of the nearest training lines."""
        similarity = self.exemplars @ vector
        nearest = np.argpartition(-similarity, NEIGHBOURS)[:NEIGHBOURS]
        weights = np.exp((similarity[nearest] - similarity[nearest].max()) / NEIGHBOUR_TEMPERATURE)
        votes = np.bincount(
            self.exemplar_labels[nearest], weights=weights, minlength=len(CATEGORIES)
        )
        out: Vector = (votes / votes.sum()).astype(np.float32)
        return out

    def probabilities(self, vector: Vector) -> tuple[dict[str, float], dict[str, float]]:
        x = vector - self.mean
        intents = _softmax(x @ self.intent_w + self.intent_b)
        regression = _softmax(x @ self.category_w + self.category_b)
        categories = (regression + self.neighbours(vector)) / 2
        return (
            {name: float(p) for name, p in zip(INTENTS, intents, strict=True)},
            {name: float(p) for name, p in zip(CATEGORIES, categories, strict=True)},
        )

    def __call__(self, query: str) -> tuple[dict[str, float], dict[str, float]]:
        """The classifier as :func:`lago_core.ai.intent.parse_intent` takes it (blocking)."""
        return self.probabilities(embed_local([query], query=True)[0])


_lock = threading.Lock()
_loaded: Classifier | None = None


def classifier() -> Classifier:
    """The trained classifier, loaded once per process."""
    global _loaded
    with _lock:
        if _loaded is None:
            with np.load(MODEL_FILE) as arrays:
                if str(arrays["model"]) != LOCAL_MODEL:
                    raise RuntimeError(
                        f"{MODEL_FILE} was trained on {arrays['model']}, not {LOCAL_MODEL}: "
                        "run python -m lago_core.ai.classifier"
                    )
                _loaded = Classifier(dict(arrays))
        return _loaded


def evaluation_collisions(lines: list[str], queries: list[str]) -> list[str]:
    """The training ``lines`` that would score their own answer on an evaluation set: equal to
    one of its ``queries`` (spacing and case aside), or containing one that is more than an
    item name any list of items shares (several words, or five or more Chinese characters)."""
    norm = {" ".join(q.lower().split()) for q in queries}
    phrases = [q for q in norm if " " in q or (len(q) >= 5 and not q.isascii())]
    out = []
    for line in lines:
        text = " ".join(line.lower().split())
        if text in norm or any(q in text for q in phrases):
            out.append(line)
    return out


def train_file_hash(path: Path = TRAIN_FILE) -> str:
    """The SHA-256 of the training file, stored in the model it trained."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(path: Path = TRAIN_FILE, out: Path = MODEL_FILE) -> dict[str, float]:
    """Train both classifiers on the training file and save them; returns training accuracy."""
    rows = [orjson.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    vectors = embed_local([r["q"] for r in rows], query=True)
    mean = vectors.mean(axis=0)
    x = vectors - mean
    has_intent = np.array([i for i, r in enumerate(rows) if "intent" in r])
    has_category = np.array([i for i, r in enumerate(rows) if "category" in r])
    yi = np.array([INTENTS.index(rows[i]["intent"]) for i in has_intent])
    yc = np.array([CATEGORIES.index(rows[i]["category"]) for i in has_category])
    intent_w, intent_b = _fit(x[has_intent], yi, len(INTENTS))
    # Weaker regularisation than the intent's: ten classes over many item names.
    category_w, category_b = _fit(x[has_category], yc, len(CATEGORIES), l2=1e-5)
    np.savez_compressed(
        out,
        model=np.array(LOCAL_MODEL),
        train_sha256=np.array(train_file_hash(path)),
        mean=mean,
        intent_w=intent_w,
        intent_b=intent_b,
        category_w=category_w,
        category_b=category_b,
        exemplars=np.round(vectors[has_category] * 127).astype(np.int8),
        exemplar_labels=yc.astype(np.uint8),
    )
    acc_i = float((np.argmax(x[has_intent] @ intent_w + intent_b, axis=1) == yi).mean())
    acc_c = float((np.argmax(x[has_category] @ category_w + category_b, axis=1) == yc).mean())
    return {"intent": acc_i, "category": acc_c, "examples": float(len(rows))}


if __name__ == "__main__":
    print(train())
