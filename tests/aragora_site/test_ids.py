"""Time-ordered ids (UUID version 7)."""

import uuid
from datetime import UTC, datetime, timedelta

import time_machine

from aragora_site.ids import uuid7

MOMENT = datetime(2026, 12, 2, 1, 30, 15, 123000, tzinfo=UTC)


def test_an_id_is_a_version_7_uuid_carrying_the_millisecond_it_was_made():
    with time_machine.travel(MOMENT, tick=False):
        made = uuid7()
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert int(made.hex[:12], 16) == int(MOMENT.timestamp() * 1000)


def test_ids_made_in_later_milliseconds_sort_after_earlier_ones():
    made = []
    for step in range(50):
        with time_machine.travel(MOMENT + timedelta(milliseconds=step), tick=False):
            made.append(uuid7())
    assert made == sorted(made) and sorted(str(u) for u in made) == [str(u) for u in made]


def test_ids_made_in_the_same_millisecond_differ():
    with time_machine.travel(MOMENT, tick=False):
        made = {uuid7() for _ in range(10_000)}
    assert len(made) == 10_000
    assert len({u.hex[:12] for u in made}) == 1
