"""The sentiment model: word and bigram TF-IDF feeding a multinomial logistic regression."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

BACKEND = "tfidf-logreg"


def build(seed: int) -> Pipeline:
    """Unfitted pipeline; the token pattern keeps $TICKERS as tokens."""
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    min_df=2,
                    sublinear_tf=True,
                    token_pattern=r"(?u)[$#@]?\b\w[\w'-]*\b",
                ),
            ),
            ("logreg", LogisticRegression(C=4.0, max_iter=1000, random_state=seed)),
        ]
    )
