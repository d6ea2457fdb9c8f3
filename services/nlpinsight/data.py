"""Seeded synthetic financial-news headlines: tickers, templates, contrasts and label noise."""

from __future__ import annotations

import numpy as np

LABELS = ("negative", "neutral", "positive")
SHARES = (0.15, 0.58, 0.27)
LABEL_NOISE = 0.28
TICKERS = (
    "$AAPL $MSFT $TSLA $AMZN $GOOGL $META $NVDA $JPM $BAC $GS $XOM $CVX $PFE $MRNA $NFLX $DIS $BA "
    "$INTC $AMD $ORCL $CRM $UBER $LYFT $SNAP $SHOP $SQ $PYPL $WMT $TGT $COST $NKE $SBUX $KO $PEP "
    "$T $VZ $F $GM $RIVN $BABA $NIO $PLTR $COIN $HOOD $ZM $DOCU $ROKU $SPOT $ABNB $DASH"
)
SUBJECT = (
    "{t}",
    "{t} shares",
    "{t} stock",
    "Shares of {t}",
    "{t} (NASDAQ)",
    "Analysts on {t}:",
)
VERBS = {
    "positive": "jumps surges rallies climbs soars gains rises advances rebounds pops",
    "negative": "falls plunges slides drops sinks tumbles slumps declines retreats dives",
    "neutral": "is to report|schedules|announces|files|confirms|holds|publishes|sets|lists",
}
OBJECTS = {
    "positive": [
        "after earnings beat",
        "on strong guidance",
        "as analysts upgrade to buy",
        "after record quarterly revenue",
        "on buyback news",
        "as demand accelerates",
        "after margin expansion",
        "on upbeat outlook",
        "as profit tops estimates",
        "after winning major contract",
    ],
    "negative": [
        "after earnings miss",
        "on weak guidance",
        "as analysts downgrade to sell",
        "after revenue shortfall",
        "on regulatory probe",
        "as demand slows",
        "after margin squeeze",
        "on layoffs report",
        "as losses widen",
        "after product recall",
    ],
    "neutral": [
        "Q3 results on Thursday",
        "annual shareholder meeting date",
        "quarterly dividend of $0.25",
        "conference call schedule",
        "board appointment",
        "10-Q filing",
        "investor day agenda",
        "new office location",
        "updated share count",
        "trading hours for holiday",
    ],
}
FILLERS = (
    "",
    "",
    "",
    "in premarket trading",
    "analysts say",
    "according to Reuters",
    "via @WSJ",
    "https://t.co/x1",
    "- Bloomberg",
    "#stocks",
    "this week",
    "in early trade",
    "report says",
)


def _words(spec: str) -> list[str]:
    """Split a word list written on one line ('|' when entries contain spaces)."""
    return spec.split("|") if "|" in spec else spec.split()


def headline(label: str, rng: np.random.Generator) -> str:
    """One headline of a class; about one in four borrows wording from another class."""
    verb_class = obj_class = label
    if rng.random() < 0.25:  # contrasts like "rises despite ..." make the task not trivially easy
        obj_class = LABELS[rng.integers(3)]
    subject = rng.choice(SUBJECT).format(t=rng.choice(_words(TICKERS)))
    verb = rng.choice(_words(VERBS[verb_class]))
    obj = rng.choice(OBJECTS[obj_class])
    joiner = "despite" if obj_class != label and label != "neutral" else ""
    if joiner:
        obj = obj.split(" ", 1)[1]
    parts = [subject, verb, joiner, obj, rng.choice(FILLERS)]
    return " ".join(p for p in parts if p)


def generate(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """n headlines and their label indices (0 negative, 1 neutral, 2 positive), ~15/58/27 %."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=SHARES)
    texts = [headline(LABELS[k], rng) for k in y]
    noisy = rng.random(n) < LABEL_NOISE
    y = np.where(noisy, rng.choice(3, size=n, p=SHARES), y)
    return texts, y
