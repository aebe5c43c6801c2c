import gc
import threading
import weakref

import pytest

from platform_kit.heap import FROZEN_OBJECTS, TrimWhenQuiet, _glibc, freeze_startup_objects, release_free_memory


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


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def quiet_trimmer(clock: FakeClock) -> tuple[TrimWhenQuiet, list[float]]:
    trims: list[float] = []
    trimmer = TrimWhenQuiet(5.0, trim=lambda: trims.append(clock.now) or True, clock=clock)
    trimmer._thread = object()  # these tests call check() themselves; no housekeeping thread
    return trimmer, trims


def test_memory_is_handed_back_once_a_burst_has_been_quiet_long_enough_and_only_once():
    clock = FakeClock()
    trimmer, trims = quiet_trimmer(clock)
    assert not trimmer.check()  # nothing used yet

    for _ in range(3):  # a burst of sign-ins a second apart keeps its buffers
        trimmer.touched()
        clock.now += 1
        assert not trimmer.check()
    clock.now += 4
    assert trimmer.check() and trims == [107.0]
    clock.now += 60
    assert not trimmer.check() and trims == [107.0]  # still quiet: nothing more to hand back

    trimmer.touched()  # the next burst
    clock.now += 5
    assert trimmer.check() and trims == [107.0, 172.0]


def test_the_housekeeping_thread_starts_with_the_first_use_and_trims_by_itself():
    trimmed = threading.Event()
    trimmer = TrimWhenQuiet(0.05, trim=lambda: trimmed.set() or True)
    assert trimmer._thread is None

    trimmer.touched()

    assert trimmer._thread.daemon and trimmed.wait(timeout=5)


@pytest.mark.skipif(_glibc() is None, reason="mallopt and malloc_trim are glibc's; other C libraries keep their own")
def test_glibc_hands_back_what_was_freed():
    def resident_kib() -> int:
        return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])

    release_free_memory()
    before = resident_kib()
    # Freed chunks between live ones: the heap cannot shrink from the top, only trim can return them.
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # 125 MiB, below the mmap threshold each
    for index in range(0, len(blocks) - 1, 2):
        blocks[index] = None
    freed_but_kept = resident_kib()

    assert release_free_memory()
    after = resident_kib()
    assert freed_but_kept - after > 40 * 1024, (before, freed_but_kept, after)
