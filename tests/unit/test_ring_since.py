"""A ring's points since a time, read without putting the whole ring in order: the same
points, oldest first, whether the stretch asked for wraps around the ring's end or not."""

from __future__ import annotations

import random

from devmentor_monitor.rings import Ring


def test_since_and_count_since_match_a_plain_list_across_the_wrap() -> None:
    rnd = random.Random(7)
    for _ in range(300):
        capacity = rnd.randint(1, 9)
        ring, kept = Ring(capacity), []
        t = 0.0
        for _ in range(rnd.randint(1, 25)):
            t += rnd.choice((0.0, 1.0, 2.5))  # equal timestamps too
            value = rnd.random()
            ring.append(t, value)
            kept = [*kept, (t, value)][-capacity:]
            for t0 in (-1.0, t + 1, rnd.uniform(0, t), *(p[0] for p in kept)):
                want = [p for p in kept if p[0] >= t0]
                assert ring.since(t0) == ([p[0] for p in want], [p[1] for p in want])
                assert ring.count_since(t0) == len(want)
    empty = Ring(4)
    assert empty.since(0.0) == ([], [])
    assert empty.count_since(0.0) == 0
