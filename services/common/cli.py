"""Command line of `python -m services.<name>`: serve one artifact on loopback."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from services.common.serving import ServeSettings, default_threads


def parse(service: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Flags shared by every service."""
    p = argparse.ArgumentParser(
        prog=f"python -m services.{service}", description=f"Serve {service}"
    )
    p.add_argument("--artifact", type=Path, required=True, help="artifact folder from train")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    p.add_argument(
        "--log-dir", type=Path, default=None, help="prediction log folder (.services/<name>)"
    )
    p.add_argument("--threads", type=int, default=default_threads(), help="inference pool size")
    p.add_argument("--max-pending", type=int, default=256, help="queued inferences before 503")
    p.add_argument("--inference", choices=["threadpool", "loop"], default="threadpool")
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


def serve(
    service: str, build: Callable[[ServeSettings], FastAPI], argv: list[str] | None = None
) -> None:
    """Parse flags and run one uvicorn worker."""
    # One BLAS/OpenMP thread per inference thread: the pool is the parallelism.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    args = parse(service, argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    settings = ServeSettings(
        artifact=args.artifact,
        log_dir=args.log_dir or Path(".services") / service,
        threads=args.threads,
        max_pending=args.max_pending,
        inference=args.inference,
    )
    uvicorn.run(
        build(settings), host=args.host, port=args.port, workers=1, log_level=args.log_level
    )
