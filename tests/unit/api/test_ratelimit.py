"""Rate limits: bursts, refill on a fake clock, Retry-After, token deficits, memory, threads."""

from __future__ import annotations

import threading

import pytest

from api.errors import ApiError
from api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited(call: object, *args: object) -> ApiError:
    assert callable(call)
    with pytest.raises(ApiError) as caught:
        call(*args)
    err = caught.value
    assert (err.status, err.type) == (429, "rate_limit_error")
    return err


def test_a_key_may_burst_its_minute_then_waits_for_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(6, 1000, clock)  # one request per 10 s, bursts of 6
    for _ in range(6):
        limiter.hit("k")

    err = limited(limiter.hit, "k")
    assert err.code == "rate_limited"
    assert err.headers == {"Retry-After": "10"}
    assert "6 requests per minute" in err.message

    clock.now += 4
    assert limited(limiter.hit, "k").headers["Retry-After"] == "6"
    clock.now += 6
    limiter.hit("k")  # refilled exactly one request
    assert limited(limiter.hit, "k").headers["Retry-After"] == "10"


def test_refill_stops_at_the_minute_allowance() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 1000, clock)
    for _ in range(3):
        limiter.hit("k")
    clock.now += 3600  # an hour idle refills to 3, not 360
    for _ in range(3):
        limiter.hit("k")
    limited(limiter.hit, "k")


def test_retry_after_is_at_least_one_second() -> None:
    clock = Clock()
    limiter = RateLimiter(600, 1000, clock)  # ten per second
    for _ in range(600):
        limiter.hit("k")
    assert limited(limiter.hit, "k").headers["Retry-After"] == "1"


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(1, 1000, Clock())
    limiter.hit("a")
    limited(limiter.hit, "a")
    limiter.hit("b")


def test_generated_tokens_go_into_deficit_and_the_next_generation_waits() -> None:
    clock = Clock()
    limiter = RateLimiter(100, 600, clock)  # ten tokens per second
    limiter.check_tokens("k")
    limiter.charge_tokens("k", 900)  # 300 over the allowance

    err = limited(limiter.check_tokens, "k")
    assert err.code == "token_rate_limited"
    assert err.headers == {"Retry-After": "31"}  # back to one token: 301 / 10 per second
    clock.now += 30
    assert limited(limiter.check_tokens, "k").headers["Retry-After"] == "1"
    clock.now += 0.5
    limiter.check_tokens("k")
    limiter.hit("k")  # the request bucket is unaffected


def test_charging_nothing_changes_nothing() -> None:
    limiter = RateLimiter(100, 1, Clock())
    limiter.charge_tokens("k", 0)
    limiter.charge_tokens("k", -5)
    limiter.check_tokens("k")
    limiter.charge_tokens("k", 1)
    limited(limiter.check_tokens, "k")


def test_idle_full_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 100, clock)
    for i in range(1000):
        limiter.hit(f"key-{i}")
    limiter.charge_tokens("deep", 10_000)
    assert limiter.tracked() == 1001

    clock.now += 61
    limiter.hit("fresh")
    # Everything refilled but the deep deficit, which must not be forgiven by a sweep.
    assert limiter.tracked() == 2
    limited(limiter.check_tokens, "deep")


def test_concurrent_hits_never_exceed_the_allowance() -> None:
    limiter = RateLimiter(1000, 1000, Clock())  # frozen clock: no refill
    allowed: list[int] = []
    refused: list[int] = []

    def work() -> None:
        for _ in range(200):
            try:
                limiter.hit("shared")
                allowed.append(1)
            except ApiError:
                refused.append(1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(allowed) == 1000 and len(refused) == 600


def test_limits_below_one_per_minute_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10)
