"""One message for many pieces of work: a Redis flag that says "a message is on its way".

Whoever has work for a draining consumer raises the flag (SET NX with an expiry) and
publishes a message only if it raised it; the consumer clears the flag *before* it looks
for work, so work added after the clear raises it again and is never left without a
message. The expiry bounds how long a lost message can delay work. When Redis cannot say,
the caller publishes anyway: a spare message costs a little, a missing one strands work."""
from collections.abc import Callable

import redis

from kernel.redis_store import redis_key, redis_store


class CoalescingFlag:
    def __init__(self, name: str, *, ttl_ms: Callable[[], int]) -> None:
        self.key = redis_key(name)
        self._ttl_ms = ttl_ms

    @property
    def ttl_ms(self) -> int:
        """How long a raised flag lives (read each time: it is a setting)."""
        return self._ttl_ms()

    def set_if_absent(self, *, client: redis.Redis | None = None) -> bool:
        """True if the caller must publish a message: it raised the flag, or Redis cannot say."""
        try:
            return bool((client or redis_store()).set(self.key, "1", nx=True, px=self.ttl_ms))
        except redis.RedisError:
            return True

    def clear(self, *, client: redis.Redis | None = None) -> None:
        """Lowers the flag: whatever arrives from now on needs a message of its own. A Redis
        error is ignored (the flag expires by itself)."""
        try:
            (client or redis_store()).delete(self.key)
        except redis.RedisError:
            pass
