"""Request rate limits: a token bucket per party, and one per client network for anonymous use."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from provenance.access.errors import RateLimited

#: Buckets kept at most; beyond it, the fullest are forgotten (a full bucket is the same as no
#: bucket), so a flood of addresses cannot grow memory without bound.
MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class TokenBuckets:
    """`per_minute` requests a minute for each key, in bursts of up to a minute's worth."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> float:
        """Spend one request of `key`'s: 0.0 if allowed, else the seconds until one is."""
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._forget_full(now, rate)
                bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def _forget_full(self, now: float, rate: float) -> None:
        # Forgetting a bucket refills it, so the fullest go first: every full one, and then as
        # many of the next fullest as make room for a tenth more keys. Spent buckets stay.
        def level(bucket: _Bucket) -> float:
            return min(float(self.per_minute), bucket.tokens + (now - bucket.at) * rate)

        by_level = sorted(self._buckets.items(), key=lambda kv: level(kv[1]), reverse=True)
        room = max(1, MAX_BUCKETS // 10)
        for position, (key, bucket) in enumerate(by_level):
            if position >= room and level(bucket) < self.per_minute:
                break
            del self._buckets[key]


def client_network(address: str | None) -> str:
    """The unit anonymous requests are counted by: an IPv4 address, or an IPv6 /64 (one
    subscriber's whole prefix, which it can otherwise walk to get fresh buckets)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class RateLimits:
    """The service's two limits; 0 turns one off."""

    party: TokenBuckets | None
    address: TokenBuckets | None

    @classmethod
    def per_minute(
        cls, party: int, address: int, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        return cls(
            TokenBuckets(party, clock) if party > 0 else None,
            TokenBuckets(address, clock) if address > 0 else None,
        )

    def check(self, party: str | None, address: str | None) -> None:
        """Count one request of `party` (authenticated) or else of `address`; RateLimited with
        `retry_after` (whole seconds) if it is over its limit."""
        if party is not None:
            buckets, key, who = self.party, f"party:{party}", f"party {party}"
        else:
            network = client_network(address)
            buckets, key, who = self.address, f"net:{network}", f"anonymous requests from {network}"
        if buckets is None:
            return
        wait = buckets.take(key)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(
                f"{who} may make {buckets.per_minute} requests a minute; retry in {retry_after} s",
                limit_per_minute=buckets.per_minute,
                retry_after=retry_after,
            )
