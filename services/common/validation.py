"""Retrain validation: acceptance gates first, then champion/challenger on a shared holdout."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from services.common import artifact, champion, gates
from services.common.models import Manifest, ModelValidation


def validate(
    *,
    champion_manifest: Manifest,
    challenger_manifest: Manifest,
    y: np.ndarray,
    champion_probs: np.ndarray,
    challenger_probs: np.ndarray,
    gate_input: gates.GateInput,
    cfg: champion.Config,
) -> ModelValidation:
    """Block on any failed gate; otherwise the champion/challenger decision stands."""
    result = champion.compare(
        service=challenger_manifest.service,
        champion_version=champion_manifest.training.model_version,
        challenger_version=challenger_manifest.training.model_version,
        y=y,
        champion_probs=champion_probs,
        challenger_probs=challenger_probs,
        cfg=cfg,
    )
    failed = gates.failures(gate_input)
    if not failed:
        return result
    return result.model_copy(update={"decision": "block", "reasons": failed + result.reasons})


def run_cli(
    service: str,
    holdout: Callable[[int, int], tuple[Any, np.ndarray]],
    predict: Callable[[Any, Any], np.ndarray],
    gate_kwargs: dict[str, Any],
    threshold: float,
    argv: Sequence[str] | None = None,
) -> int:
    """Score both artifacts on a fresh seeded holdout; print the JSON; exit 0/1/2 like the seed."""
    p = argparse.ArgumentParser(prog=f"python -m services.{service}.validate")
    p.add_argument("--champion", type=Path, required=True, help="production artifact folder")
    p.add_argument("--challenger", type=Path, required=True, help="candidate artifact folder")
    p.add_argument("--seed", type=int, default=20_240, help="holdout seed (not a training seed)")
    p.add_argument("--rows", type=int, default=4000, help="holdout size")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    champ_model, champ_manifest = artifact.load(args.champion, service=service)
    chal_model, chal_manifest = artifact.load(args.challenger, service=service)
    x, y = holdout(args.rows, args.seed)
    result = validate(
        champion_manifest=champ_manifest,
        challenger_manifest=chal_manifest,
        y=y,
        champion_probs=predict(champ_model, x),
        challenger_probs=predict(chal_model, x),
        gate_input=gates.GateInput(
            candidate=chal_manifest.metrics, production=champ_manifest.metrics, **gate_kwargs
        ),
        cfg=champion.Config(threshold=threshold),
    )
    text = result.model_dump_json(indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return {"promote": 0, "keep": 1, "block": 2}[result.decision]
