"""The work queue: one entry per key, lanes, a key never processed twice at once, timed adds, backoff."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spofless.operator.queue import Backoff, Lane, WorkQueue


def drain(queue: WorkQueue[str]) -> list[tuple[str, Lane]]:
    """Everything ready now, in the order workers would take it (each marked done at once)."""

    async def take() -> list[tuple[str, Lane]]:
        out = []
        while len(queue):
            key, lane, _, _ = await asyncio.wait_for(queue.get(), timeout=1)
            out.append((key, lane))
            queue.done(key)
        return out

    return asyncio.run(take())


def test_a_key_added_many_times_is_queued_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert drain(queue) == [("a", Lane.REST), ("b", Lane.REST)]


def test_higher_lanes_go_first_and_a_waiting_key_moves_up() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("rest")
    queue.add("moved")
    queue.add("moves", Lane.MOVES)
    queue.add("zone", Lane.ZONE)
    queue.add("moved", Lane.ZONE)  # already waiting in the rest lane: raised, not queued twice
    assert drain(queue) == [("zone", Lane.ZONE), ("moved", Lane.ZONE), ("moves", Lane.MOVES), ("rest", Lane.REST)]


def test_a_zone_lane_worker_takes_the_zone_lane_only_and_wakes_for_it() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("rest")
        queue.add("moves", Lane.MOVES)
        waiting = asyncio.create_task(queue.get(Lane.ZONE))  # asleep until a zone-lane key comes
        with pytest.raises(TimeoutError):  # neither is the zone worker's to take
            await asyncio.wait_for(asyncio.shield(waiting), timeout=0.05)
        queue.add("moves", Lane.ZONE)  # a waiting key raised to the zone lane: now it is its
        queue.add("zone", Lane.ZONE)
        zone_taken = [(await asyncio.wait_for(waiting, timeout=1))[0]]
        zone_taken.append((await asyncio.wait_for(queue.get(Lane.ZONE), timeout=1))[0])
        for key in zone_taken:
            queue.done(key)
        other_taken = []
        while len(queue):
            key, _, _, _ = await asyncio.wait_for(queue.get(), timeout=1)
            other_taken.append(key)
            queue.done(key)
        return zone_taken, other_taken

    zone, other = asyncio.run(scenario())
    assert zone == ["moves", "zone"]
    assert other == ["rest"]


def test_a_key_added_while_processed_runs_once_more_after_and_never_alongside() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        key, _, _, _ = await queue.get()
        queue.add("a")  # a change arrives during the pass
        queue.add("a")
        assert len(queue) == 0, "not handed to a second worker while the first runs it"
        queue.done(key)
        again, _, _, _ = await asyncio.wait_for(queue.get(), timeout=1)
        queue.done(again)
        return [key, again]

    assert asyncio.run(scenario()) == ["a", "a"]


def test_timed_adds_keep_the_earliest_and_fire_into_the_queue() -> None:
    async def scenario() -> tuple[str, float]:
        queue: WorkQueue[str] = WorkQueue()
        loop = asyncio.get_running_loop()
        start = loop.time()
        queue.add_after("a", 30)
        queue.add_after("a", 0.05)  # earlier: replaces the later one
        queue.add_after("a", 10)  # later: ignored
        key, _, cause, _ = await asyncio.wait_for(queue.get(), timeout=5)
        return f"{key}:{cause}", loop.time() - start

    taken, after = asyncio.run(scenario())
    assert taken == "a:timer"
    assert 0.04 <= after < 5


def test_failures_back_off_exponentially_with_jitter_and_reset_on_success() -> None:
    async def scenario() -> tuple[list[float], float]:
        queue: WorkQueue[str] = WorkQueue(backoff=Backoff(base=1, cap=8, jitter=0.2))
        delays = [queue.add_rate_limited("a") for _ in range(6)]
        queue.forget("a")
        after_success = queue.add_rate_limited("a")
        queue.clear()
        return delays, after_success

    delays, after_success = asyncio.run(scenario())
    for got, raw in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert raw * 0.8 <= got <= raw * 1.2
    assert 0.8 <= after_success <= 1.2


def test_a_throttled_retry_waits_at_least_what_the_server_asked() -> None:
    async def scenario() -> float:
        queue: WorkQueue[str] = WorkQueue(backoff=Backoff(base=0.01))
        delay = queue.add_rate_limited("a", retry_after=7)
        queue.clear()
        return delay

    assert asyncio.run(scenario()) == 7


def test_clear_drops_everything_queued_timed_and_counted() -> None:
    async def scenario() -> tuple[int, int]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        queue.add_after("b", 0.01)
        queue.add_rate_limited("c")
        queue.clear()
        with pytest.raises(TimeoutError):  # past the timer that was cleared: nothing may fire
            await asyncio.wait_for(queue.get(), timeout=0.05)
        return len(queue), queue.failures("c")

    assert asyncio.run(scenario()) == (0, 0)


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(list(Lane))), max_size=40))
def test_every_key_added_is_taken_once_in_its_highest_lane(adds: list[tuple[str, Lane]]) -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key, lane in adds:
        queue.add(key, lane)
    taken = drain(queue)
    assert sorted(k for k, _ in taken) == sorted({k for k, _ in adds})
    best = {k: min(lane for key, lane in adds if key == k) for k, _ in adds}
    assert all(lane == best[k] for k, lane in taken)
    assert [lane for _, lane in taken] == sorted(lane for _, lane in taken)
