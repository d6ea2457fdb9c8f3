"""Seeded synthetic hourly trip counts for Chicago's 77 community areas, with real seasonality."""

from __future__ import annotations

import numpy as np

N_AREAS = 77
HOURS_PER_WEEK = 168
BUSY = {8: 60.0, 32: 55.0, 28: 25.0, 76: 40.0, 33: 15.0, 6: 12.0, 7: 10.0}  # Near North, Loop, ...
AIRPORTS = (76, 56)


def daily_profile(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Relative demand by hour: commute peaks on weekdays, a late broad peak at weekends."""
    weekday = (
        0.25
        + 1.0 * np.exp(-(((hour - 8.5) / 1.6) ** 2))
        + 1.2 * np.exp(-(((hour - 18) / 2.2) ** 2))
        + 0.5 * np.exp(-(((hour - 13) / 2.5) ** 2))
    )
    late = np.minimum(np.abs(hour - 23), 24 - np.abs(hour - 23))
    weekend_curve = (
        0.35 + 0.9 * np.exp(-(((hour - 14) / 3.5) ** 2)) + 0.8 * np.exp(-((late / 2) ** 2))
    )
    return np.where(weekend, weekend_curve, weekday)


def area_levels(rng: np.random.Generator) -> np.ndarray:
    """Mean trips per hour per area: a few dense areas, a long tail of quiet ones."""
    levels = rng.lognormal(np.log(2.0), 0.8, N_AREAS)
    for area, level in BUSY.items():
        levels[area - 1] = level
    return levels


def ar_noise(
    shape: tuple[int, int], phi: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """AR(1) log-noise along time so the last hour says something the calendar does not."""
    eps = rng.normal(0, sigma, shape)
    out = np.empty(shape)
    out[0] = eps[0]
    for t in range(1, shape[0]):
        out[t] = phi * out[t - 1] + eps[t]
    return out


def generate(weeks: int, seed: int) -> dict[str, np.ndarray]:
    """Counts[hour, area] for `weeks` weeks starting on a Monday, plus calendar columns."""
    rng = np.random.default_rng(seed)
    n_hours = weeks * HOURS_PER_WEEK
    t = np.arange(n_hours)
    hour = t % 24
    dow = (t // 24 + 1) % 7 + 1  # 1=Sunday; hour 0 is a Monday
    weekend = (dow == 1) | (dow == 7)
    profile = daily_profile(hour, weekend)[:, None]
    airport = np.isin(np.arange(1, N_AREAS + 1), AIRPORTS)[None, :]
    profile = np.where(airport, 0.6 + 0.4 * profile, profile)  # airports are flatter
    weekly = np.where(dow == 6, 1.15, np.where(dow == 1, 0.85, 1.0))[:, None]  # Fri up, Sun down
    city = ar_noise((n_hours, 1), 0.95, 0.05, rng)  # weather, events: shared by every area
    local = ar_noise((n_hours, N_AREAS), 0.85, 0.12, rng)
    lam = area_levels(rng)[None, :] * profile * weekly * np.exp(city + local)
    return {"counts": rng.poisson(lam).astype(float), "hour": hour, "day_of_week": dow}
