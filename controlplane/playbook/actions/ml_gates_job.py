"""`python -m controlplane.playbook.actions.ml_gates_job`: a challenger's acceptance gates and its
champion/challenger comparison, printed as one JSON line for `model.gates`.

It runs in a subprocess with the services' interpreter and is the only plane module that loads
models (scikit-learn, scipy); the plane process reads its JSON. Everything is the services' own:
the gate settings of `services/<svc>/validate.py`, the gates of `services/common/gates.py` (each
one's result, not only the failures), `services/common/validation.validate` (McNemar and the
paired bootstrap) on the seeded holdout validate.py draws. One difference from validate.py: the
p95 latency gate compares both models timed here, side by side, instead of the numbers two training
runs measured at other times and perhaps on other machines (on a busy host those differ by 4x for
the same model, which would fail or pass the 1.2x gate at random); the calls alternate between
the two models, so a burst of load slows both.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HOLDOUT_SEED = 20_240  # validate.py's default: a holdout seed no training run uses
HOLDOUT_ROWS = 4000
LATENCY_CALLS = 300  # single-row calls per model (the services time 200 at training)


def one_row(x: Any, i: int) -> Any:
    """Row i of a holdout, in the shape the model takes (columns, or a list of texts)."""
    if isinstance(x, dict):
        return {k: v[i : i + 1] for k, v in x.items()}
    return [x[i]]


def p95_interleaved(predicts: Sequence[Callable[[Any], Any]], x: Any, n_rows: int) -> list[float]:
    """Single-row p95 latency of each model, one call of each in turn (a load burst hits both)."""
    import numpy as np

    durations: list[list[float]] = [[] for _ in predicts]
    for i in range(LATENCY_CALLS):
        row = one_row(x, i % n_rows)
        turn = list(enumerate(predicts))
        for k, predict in turn if i % 2 else reversed(turn):  # neither always goes first
            start = time.perf_counter()
            predict(row)
            durations[k].append((time.perf_counter() - start) * 1000)
    return [round(float(np.percentile(d, 95)), 4) for d in durations]


def gate_table(gate_input: Any) -> list[dict[str, Any]]:
    """Each gate in priority order: what it prevents, whether it passed, and why not."""
    from services.common import gates

    table = []
    for gate in gates.GATES:
        reason = gate(gate_input)
        table.append(
            {
                "name": gate.__name__,
                "prevents": (gate.__doc__ or "").strip().splitlines()[0],
                "passed": reason is None,
                "reason": reason,
            }
        )
    return table


def evaluate(service: str, challenger: Path, champion: Path | None) -> dict[str, Any]:
    """Gates (and, with a champion, the comparison) of one challenger, as plain JSON."""
    from services.common import artifact, gates

    try:
        settings = importlib.import_module(f"services.{service}.validate")
    except ModuleNotFoundError:
        return {"unsupported": f"{service} has no validate.py (no champion/challenger rule)"}
    chal_model, chal = artifact.load(challenger, service=service)
    out: dict[str, Any] = {"challenger_version": chal.training.model_version}
    if champion is None:
        gate_input = gates.GateInput(candidate=chal.metrics, production=None, **settings.GATES)
        return out | {"gates": gate_table(gate_input), "comparison": None}
    champ_model, champ = artifact.load(champion, service=service)
    return out | compare(service, settings.GATES, (champ_model, champ), (chal_model, chal))


def compare(
    service: str, settings: dict[str, Any], champ: tuple[Any, Any], chal: tuple[Any, Any]
) -> dict[str, Any]:
    """Gates against the champion (latency timed here), then McNemar and the bootstrap."""
    from services.common import champion as cc
    from services.common import gates, validation

    data: Any = importlib.import_module(f"services.{service}.data")
    threshold = getattr(importlib.import_module(f"services.{service}.model"), "THRESHOLD", 0.5)
    (champ_model, champ_manifest), (chal_model, chal_manifest) = champ, chal
    x, y = data.generate(HOLDOUT_ROWS, HOLDOUT_SEED)
    timed = p95_interleaved([champ_model.predict_proba, chal_model.predict_proba], x, len(y))
    gate_input = gates.GateInput(
        candidate=dict(chal_manifest.metrics) | {"p95_latency_ms": timed[1]},
        production=dict(champ_manifest.metrics) | {"p95_latency_ms": timed[0]},
        **settings,
    )
    result = validation.validate(
        champion_manifest=champ_manifest,
        challenger_manifest=chal_manifest,
        y=y,
        champion_probs=champ_model.predict_proba(x),
        challenger_probs=chal_model.predict_proba(x),
        gate_input=gate_input,
        cfg=cc.Config(threshold=threshold),
    )
    latency = {
        "champion_p95_ms": timed[0],
        "challenger_p95_ms": timed[1],
        "champion_p95_ms_at_training": champ_manifest.metrics.get("p95_latency_ms"),
        "challenger_p95_ms_at_training": chal_manifest.metrics.get("p95_latency_ms"),
    }
    return {
        "champion_version": champ_manifest.training.model_version,
        "gates": gate_table(gate_input),
        "comparison": result.model_dump(mode="json"),
        "latency": latency,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation as one JSON line; exit 0 (a failed gate is a result, not an error)."""
    p = argparse.ArgumentParser(prog="python -m controlplane.playbook.actions.ml_gates_job")
    p.add_argument("--service", required=True)
    p.add_argument("--challenger", type=Path, required=True)
    p.add_argument("--champion", type=Path, default=None)
    args = p.parse_args(argv)
    found = evaluate(args.service, args.challenger, args.champion)
    print(json.dumps(found, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
