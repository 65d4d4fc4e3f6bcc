"""Rate limits on `limits`: bursts, Retry-After, refill, token budgets, threads, and one limit
shared by two limiters (two API replicas) through a real Redis."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from api.errors import ApiError
from api.ratelimit import RateLimiter


def limited(call: object, *args: object) -> ApiError:
    assert callable(call)
    with pytest.raises(ApiError) as caught:
        call(*args)
    err = caught.value
    assert (err.status, err.type) == (429, "rate_limit_error")
    return err


def test_a_key_may_burst_its_minute_then_is_refused_with_retry_after() -> None:
    limiter = RateLimiter(6, 1000)
    for _ in range(6):
        limiter.hit("k")

    err = limited(limiter.hit, "k")
    assert err.code == "rate_limited"
    assert 1 <= int(err.headers["Retry-After"]) <= 60
    assert "6 requests per minute" in err.message


def test_the_window_moves_on() -> None:
    limiter = RateLimiter(3, 1000, window=1)  # a one-second window, to test in seconds
    for _ in range(3):
        limiter.hit("k")
    limited(limiter.hit, "k")
    time.sleep(2.1)  # two windows later nothing of the burst counts
    for _ in range(3):
        limiter.hit("k")
    limited(limiter.hit, "k")


def test_keys_have_separate_limits() -> None:
    limiter = RateLimiter(1, 1000)
    limiter.hit("a")
    limited(limiter.hit, "a")
    limiter.hit("b")


def test_generated_tokens_spend_the_budget_and_the_next_generation_waits() -> None:
    limiter = RateLimiter(100, 600)
    limiter.check_tokens("k")
    limiter.charge_tokens("k", 900)  # more than the budget: all of it is spent

    err = limited(limiter.check_tokens, "k")
    assert err.code == "token_rate_limited" and "600 generated tokens" in err.message
    limiter.hit("k")  # the request limit is separate


def test_charging_nothing_changes_nothing() -> None:
    limiter = RateLimiter(100, 1)
    limiter.charge_tokens("k", 0)
    limiter.charge_tokens("k", -5)
    limiter.check_tokens("k")
    limiter.charge_tokens("k", 1)
    limited(limiter.check_tokens, "k")


def test_concurrent_hits_never_exceed_the_allowance() -> None:
    limiter = RateLimiter(1000, 1000)
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


@pytest.mark.redis
def test_two_replicas_share_one_limit_through_redis() -> None:
    url = os.environ.get("RAG_TEST_REDIS_URL")
    if not url:
        pytest.skip("RAG_TEST_REDIS_URL is not set (a Redis server for the scaled-out tests)")
    first, second = RateLimiter(4, 1000, url), RateLimiter(4, 1000, url)
    key = f"key-{uuid.uuid4().hex}"
    for limiter in (first, second, first, second):
        limiter.hit(key)
    limited(first.hit, key)
    limited(second.hit, key)
    second.charge_tokens(key, 1000)
    limited(first.check_tokens, key)
