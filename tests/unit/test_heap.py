import gc
import weakref

import pytest

from platform_kit.heap import FROZEN_OBJECTS, freeze_startup_objects


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()  # back to the collector: other tests expect ordinary generations


def walked_by_collector() -> set[int]:
    return {id(o) for o in gc.get_objects()}


def test_objects_alive_at_start_are_out_of_the_collectors_reach_and_counted(unfrozen):
    kept_from_start_up = [[] for _ in range(1000)]

    frozen = freeze_startup_objects()

    assert frozen == gc.get_freeze_count() >= len(kept_from_start_up)
    assert FROZEN_OBJECTS._value.get() == frozen
    walked = walked_by_collector()
    assert not any(id(o) in walked for o in kept_from_start_up)
    made_later = [[]]
    assert id(made_later[0]) in walked_by_collector()  # what requests make is collected as before


def test_garbage_left_by_start_up_is_collected_not_frozen(unfrozen):
    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage
    gone = weakref.ref(garbage)
    del garbage

    freeze_startup_objects()

    assert gone() is None
