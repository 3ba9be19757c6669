import asyncio
import time

from rfactory.teachers.ratelimit import TokenBucket


def test_requests_per_minute_are_spread_out():
    async def go() -> list[float]:
        bucket = TokenBucket(per_minute=120)  # 2 a second, a burst of 4
        stamps = []
        for _ in range(10):
            await bucket.take(1)
            stamps.append(time.monotonic())
        return stamps

    stamps = asyncio.run(go())
    assert stamps[3] - stamps[0] < 0.2  # the burst goes at once
    assert stamps[-1] - stamps[0] >= 2.9  # the other 6 wait half a second each


def test_unused_tokens_are_given_back():
    async def go() -> float:
        bucket = TokenBucket(per_minute=600)  # 10 a second, burst 20
        await bucket.take(20)
        bucket.give_back(15)  # the request used 5
        started = time.monotonic()
        await bucket.take(15)
        return time.monotonic() - started

    assert asyncio.run(go()) < 0.2
