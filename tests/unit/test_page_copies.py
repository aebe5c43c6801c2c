"""The gateway's copies of grades pages (gateway/page_copies.py): what each change event drops, and
the settings' meaning; the whole path (gradebook → relay → broker → both workers) is tested end to
end in tests/e2e/test_grades.py."""
from __future__ import annotations

from types import SimpleNamespace

from dziennik.gradebook.v1.events_pb2 import PagesChanged
from dziennik.gradebook.v1.gradebook_pb2 import GetStudentGradesPageResponse
from dziennik.identity.v1.events_pb2 import PeopleChanged
from gateway.page_copies import PAGES_CHANGED_KEY, changes_follower, page_copies
from platform_kit.bus.follower import PEOPLE_CHANGED_KEY, ChangeFollower
from platform_kit.cache import TtlCache


def page(version: str, size: int = 100) -> GetStudentGradesPageResponse:
    return GetStudentGradesPageResponse(version=version, page_gzip=bytes(size))


def gateway_follower(access: TtlCache, copies: TtlCache) -> ChangeFollower:
    """The worker's follower as gateway/wsgi.py wires it, not started (no broker)."""
    return changes_follower("amqp://guest:guest@127.0.0.1:1/%2F", access, copies)


def deliver(follower: ChangeFollower, routing_key: str, message) -> None:
    follower._on_message(None, SimpleNamespace(routing_key=routing_key), None, message.SerializeToString())


def followed_copies() -> tuple[TtlCache, TtlCache]:
    access: TtlCache[bool] = TtlCache("test_access", 10, followed_seconds=600, mentions=lambda key, _family: key[:2])
    copies = page_copies(1, 120)
    for cache in (access, copies):
        cache.follow(True)
    access.put(("mum", "ola", "grades"), True)
    copies.put(("ola", ""), page("1.1.1.2026/2027"))
    copies.put(("ala", ""), page("1.4.1.2026/2027"))
    copies.put(("ala", "2025/2026"), page("1.2.1.2025/2026"))
    return access, copies


def test_a_pages_change_drops_the_named_students_pages_of_every_year_and_nothing_else():
    access, copies = followed_copies()
    deliver(gateway_follower(access, copies), PAGES_CHANGED_KEY, PagesChanged(student_ids=["ala"]))
    assert copies.get(("ala", "")) is None and copies.get(("ala", "2025/2026")) is None
    assert copies.get(("ola", "")).version == "1.1.1.2026/2027" and access.get(("mum", "ola", "grades")) is True


def test_a_schools_rules_drop_every_page_and_a_people_change_drops_the_students_pages_too():
    access, copies = followed_copies()
    follower = gateway_follower(access, copies)
    deliver(follower, PAGES_CHANGED_KEY, PagesChanged(school_ids=["school-1"]))
    assert [copies.get(key) for key in (("ola", ""), ("ala", ""))] == [None, None]
    assert access.get(("mum", "ola", "grades")) is True  # rules say nothing about who may read

    access, copies = followed_copies()
    deliver(gateway_follower(access, copies), PEOPLE_CHANGED_KEY, PeopleChanged(user_ids=["ola"]))  # e.g. moved to another school
    assert copies.get(("ola", "")) is None and access.get(("mum", "ola", "grades")) is None
    assert copies.get(("ala", "")) is not None


def test_no_budget_keeps_no_page_and_its_cache_is_not_followed():
    copies = page_copies(0, 120)
    copies.follow(True)
    copies.put(("ola", ""), page("1.1.1.2026/2027"))
    assert copies.get(("ola", "")) is None and not copies.followed


def test_the_budget_counts_page_bytes():
    copies = page_copies(0.01, 120)  # 10,485 bytes: three pages of 3,000 bytes and their overhead
    copies.follow(True)
    for student in ("a", "b", "c", "d"):
        copies.put((student, ""), page(student, 3_000))
    assert [s for s in "abcd" if copies.get((s, "")) is not None] == ["b", "c", "d"]


def test_pages_kept_in_the_same_second_do_not_all_go_back_to_gradebook_in_the_same_second():
    # Each copy lives 80-100 % of its seconds (the lives themselves: tests/unit/test_cache.py).
    copies = page_copies(16, 120)
    assert copies.followed_seconds == 120 and copies.shortest_life == 0.8
