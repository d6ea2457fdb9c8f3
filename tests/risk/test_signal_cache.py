"""The signal cache: refreshed ahead of expiry under traffic, never filled with pre-change reads."""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI

from controlplane.clock import ManualClock
from controlplane.risk.service import SignalService
from controlplane.risk.signals import SignalReading, SignalState


def _service(app: FastAPI, clock: ManualClock, ttl_s: float) -> SignalService:
    return SignalService(
        engine=app.state.ctx.engine, clock=clock, metrics=None, on_hours=(8, 18), local_ttl_s=ttl_s
    )


def _counting(svc: SignalService, name: str) -> list[int]:
    calls = [0]
    read = svc.readers.by_name[name]

    def counted(session, scope):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return read(session, scope)

    svc.readers.by_name[name] = counted
    return calls


def test_a_read_overtaken_by_a_local_change_is_not_cached(app: FastAPI, clock: ManualClock) -> None:
    svc = _service(app, clock, ttl_s=60)
    states = iter([SignalState.INACTIVE, SignalState.ACTIVE])

    def incident(session, scope):  # type: ignore[no-untyped-def]
        state = next(states)
        if state is SignalState.INACTIVE:
            svc.invalidate()  # POST /v1/incidents committed while this read was under way
        return SignalReading("incident_active", state, "incidents", clock.now(), {})

    svc.readers.by_name["incident_active"] = incident
    svc.readings("bankchurn")
    after = {r.name: r.state for r in svc.readings("bankchurn")}
    assert after["incident_active"] is SignalState.ACTIVE  # read again, not the pre-change value


def test_cache_is_refreshed_ahead_of_expiry_without_making_the_caller_wait(
    app: FastAPI, clock: ManualClock
) -> None:
    svc = _service(app, clock, ttl_s=2.0)  # refreshed in its last 0.5 s
    calls = _counting(svc, "incident_active")

    async def scenario() -> None:
        first = await svc.readings_async("bankchurn")
        assert calls[0] == 1
        time.sleep(1.6)  # inside the last 0.5 s of the TTL, not past it
        again = await svc.readings_async("bankchurn")
        assert again == first and calls[0] == 1  # served from the cache, at once
        await asyncio.gather(*svc._ahead.values())
        assert calls[0] == 2  # ... while one refresh ran in the background
        third = await svc.readings_async("bankchurn")
        assert third[0] is not first[0]  # the refreshed readings are the ones served now
        assert calls[0] == 2

    asyncio.run(scenario())


def test_expired_cache_is_read_again_in_line(app: FastAPI, clock: ManualClock) -> None:
    svc = _service(app, clock, ttl_s=0.2)
    calls = _counting(svc, "incident_active")

    async def scenario() -> None:
        await svc.readings_async(None)
        time.sleep(0.3)  # past the TTL: nothing stale is served
        await svc.readings_async(None)

    asyncio.run(scenario())
    assert calls[0] == 2
