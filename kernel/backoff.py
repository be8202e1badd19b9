"""Retry delays shared by every delivery that retries (partner callbacks, emails)."""
import random


def exponential_backoff_seconds(*, attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half of the delay fixed, half random, capped."""
    delay = min(cap, base * (2 ** max(attempts - 1, 0)))
    return delay / 2 + random.uniform(0, delay / 2)
