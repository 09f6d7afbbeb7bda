"""A token bucket per client: pure, the clock is passed in."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """`rate` requests a second, bursts of `burst`, remembered for `max_clients`."""

    rate: float
    burst: float
    max_clients: int = 10000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, client: str, now: float, cost: float = 1.0) -> bool:
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        if len(self._buckets) >= self.max_clients and client not in self._buckets:
            # Forget the fullest buckets first: they are the clients at rest.
            for key in [k for k, (t, _) in self._buckets.items() if t >= self.burst]:
                del self._buckets[key]
            if len(self._buckets) >= self.max_clients:
                self._buckets.clear()
        self._buckets[client] = (tokens, now)
        return ok
