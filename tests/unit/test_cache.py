"""Copies of identity's answers in gradebook (platform_kit/cache.py): fewer calls to identity, and
the rule that a copy may grant a few seconds longer but never refuses."""
from __future__ import annotations

import pytest

from platform_kit.auth import Principal
from platform_kit.cache import TtlCache
from platform_kit.db import Database
from platform_kit.errors import NotFound
from services.gradebook import orm as gradebook_orm
from services.gradebook.use_cases import ClassRoster, Gradebook, Student, Teaching

SCHOOL, CLASS_A, CLASS_B = "school-1", "class-1a", "class-1b"
SECRETARY = Principal(user_id="sec", school_id=SCHOOL, roles=frozenset({"school_admin"}))
TEACHER = Principal(user_id="teacher", school_id=SCHOOL, roles=frozenset({"teacher"}))
MUM = Principal(user_id="mum", school_id=SCHOOL, roles=frozenset({"parent"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_for_its_seconds_and_nothing_that_was_not_found_is_kept():
    clock = Clock()
    cache: TtlCache[str] = TtlCache("test", 10, timer=clock)
    calls: list[str] = []

    def load(key):
        calls.append(key)
        return None if key == "missing" else f"answer {len(calls)}"

    assert cache.get_or_load("a", lambda: load("a")) == "answer 1"
    assert cache.get_or_load("a", lambda: load("a")) == "answer 1"
    assert cache.get_or_load("missing", lambda: load("missing")) is None
    assert cache.get_or_load("missing", lambda: load("missing")) is None
    assert calls == ["a", "missing", "missing"]
    clock.now += 10.5
    assert cache.get_or_load("a", lambda: load("a")) == "answer 4"


def test_zero_seconds_turns_the_cache_off():
    cache: TtlCache[str] = TtlCache("test-off", 0)
    calls = []
    for _ in range(3):
        cache.get_or_load("a", lambda: calls.append(1) or "x")
    assert len(calls) == 3 and cache.get("a") is None


def test_a_cache_with_only_followed_seconds_keeps_and_uses_copies_only_while_followed():
    """The gateway's grades pages (gateway/page_copies.py): data, so no short life of its own."""
    clock = Clock()
    cache: TtlCache[str] = TtlCache("test-followed-only", 0, followed_seconds=120, mentions=lambda key, _value: key, timer=clock)
    assert cache.put(("ala",), "page") == "page" and cache.get(("ala",)) is None  # not followed: not kept
    cache.follow(True)
    cache.put(("ala",), "page")
    clock.now += 119
    assert cache.get(("ala",)) == "page"
    cache.follow(False)  # the broker went: not used at once, not even for a second
    assert cache.get(("ala",)) is None
    cache.follow(True)
    cache.put(("ala",), "page 2")
    clock.now += 121
    assert cache.get(("ala",)) is None


def test_a_byte_budget_evicts_the_oldest_copies_and_keeps_none_larger_than_itself():
    cache: TtlCache[bytes] = TtlCache("test-bytes", 0, maxsize=1_000, followed_seconds=120, mentions=lambda key, _value: key, sizeof=len)
    cache.follow(True)
    for n in range(4):
        cache.put((f"s{n}",), bytes(300))
    kept = [n for n in range(4) if cache.get((f"s{n}",)) is not None]
    assert kept == [1, 2, 3]  # 900 of 1,000 bytes; the oldest made room
    cache.put(("huge",), bytes(1_001))
    assert cache.get(("huge",)) is None and [n for n in range(4) if cache.get((f"s{n}",)) is not None] == [1, 2, 3]


def followed_cache(clock: Clock, day_left: float = 86_400.0) -> TtlCache[str]:
    """Copies about (parent, student) pairs, 10 s on their own and 600 s while followed."""
    return TtlCache(
        "test-followed", 10, followed_seconds=600, mentions=lambda key, _value: key, timer=clock, day_left=lambda: day_left
    )


def test_while_followed_a_copy_lives_its_followed_seconds_and_a_change_drops_only_the_copies_about_it():
    clock = Clock()
    cache = followed_cache(clock)
    cache.follow(True)
    cache.put(("mum", "ala"), "yes")
    cache.put(("dad", "ola"), "yes")
    clock.now += 300
    assert cache.get(("mum", "ala")) == "yes" and cache.get(("dad", "ola")) == "yes"
    assert cache.drop({"ala", "someone-else"}) == 1
    assert cache.get(("mum", "ala")) is None
    assert cache.get(("dad", "ola")) == "yes"
    clock.now += 301
    assert cache.get(("dad", "ola")) is None


@pytest.mark.parametrize("followed", [True, False])
def test_copies_kept_together_with_a_shortest_life_end_spread_over_its_last_share_not_together(followed):
    clock = Clock()
    cache: TtlCache[str] = (
        TtlCache("test", 0, followed_seconds=100, shortest_life=0.8, timer=clock, day_left=lambda: 86_400.0)
        if followed else TtlCache("test", 100, shortest_life=0.8, timer=clock)
    )
    cache.follow(followed)
    keys = [f"page-{n}" for n in range(200)]
    for key in keys:
        cache.put(key, "page")

    def kept() -> int:
        return sum(cache.get(key) is not None for key in keys)

    clock.now += 79.9
    assert kept() == 200  # none before 80 % of its life
    clock.now += 10
    assert 0 < kept() < 200  # some gone, some not: 200 lives drawn from 80-100 s
    clock.now += 10.2
    assert kept() == 0  # none past all of it


def test_a_shortest_life_is_a_share_of_the_seconds():
    for wrong in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="shortest_life"):
            TtlCache("test", 10, shortest_life=wrong)


def test_copies_made_after_older_ones_expired_or_were_evicted_are_still_dropped_by_whom_they_are_about():
    clock = Clock()
    cache: TtlCache[str] = TtlCache("test-index", 10, maxsize=50, followed_seconds=600, mentions=lambda key, _value: key, timer=clock)
    cache.follow(True)
    cache.put(("mum", "ala"), "yes")
    clock.now += 601  # gone by age
    for n in range(5_000):  # far more copies than fit: most are evicted, their index entries stale
        cache.put((f"parent-{n}", f"child-{n}"), "yes")
    cache.put(("mum", "ola"), "yes")
    cache.put(("dad", "ola"), "yes")
    assert cache.drop({"mum"}) == 1
    assert cache.get(("mum", "ola")) is None and cache.get(("dad", "ola")) == "yes"
    assert cache.drop({"child-4999"}) == 1 and cache.drop({"child-0"}) == 0


def test_a_cache_that_stops_following_uses_only_copies_younger_than_its_seconds_and_starts_again_from_nothing():
    clock = Clock()
    cache = followed_cache(clock)
    cache.follow(True)
    cache.put(("mum", "ala"), "old")
    clock.now += 60
    cache.put(("dad", "ola"), "recent")
    clock.now += 5
    cache.follow(False)  # the broker is gone: a change would not reach us
    assert cache.get(("mum", "ala")) is None
    assert cache.get(("dad", "ola")) == "recent"
    cache.follow(True)  # back: whatever changed meanwhile may be in a copy
    assert cache.get(("dad", "ola")) is None


def test_an_answer_a_drop_overtook_is_not_kept():
    clock = Clock()
    cache = followed_cache(clock)
    cache.follow(True)

    def load_while_the_link_is_revoked():
        cache.drop({"ala"})  # the change's event arrives while identity's older answer travels
        return "yes (before the change)"

    assert cache.get_or_load(("mum", "ala"), load_while_the_link_is_revoked) == "yes (before the change)"
    assert cache.get(("mum", "ala")) is None
    assert cache.get_or_load(("mum", "ala"), lambda: "yes") == "yes"
    assert cache.get(("mum", "ala")) == "yes"


def test_a_followed_copy_is_not_used_past_the_school_day_it_was_made_on():
    clock = Clock()
    cache = followed_cache(clock, day_left=30.0)  # made at 23:59:30
    cache.follow(True)
    cache.put(("mum", "ala"), "extended today")
    clock.now += 29
    assert cache.get(("mum", "ala")) == "extended today"
    clock.now += 2
    assert cache.get(("mum", "ala")) is None


def test_a_cache_without_followed_seconds_never_follows():
    clock = Clock()
    cache: TtlCache[str] = TtlCache("test-unfollowed", 10, mentions=lambda key, _value: key, timer=clock)
    cache.follow(True)
    assert not cache.followed
    cache.put(("mum", "ala"), "yes")
    clock.now += 11
    assert cache.get(("mum", "ala")) is None


class Identity:
    """identity as gradebook sees it, counting the questions it is asked; changes like the real one."""

    def __init__(self) -> None:
        self.parents = {"ala": {"mum"}}
        self.classes = {"ala": CLASS_A}
        self.assignments: set[tuple[str, str]] = set()
        self.asked: list[str] = []

    def student(self, student_id: str) -> Student | None:
        self.asked.append(f"student {student_id}")
        if student_id not in self.classes:
            return None
        return Student(student_id, SCHOOL, self.classes[student_id], frozenset(self.parents[student_id]), "Ala", "Nowak")

    def students(self, school_id: str, student_ids: list[str]) -> list[Student]:
        self.asked.append(f"students {','.join(student_ids)}")
        return [Student(i, SCHOOL, self.classes[i], frozenset(self.parents[i])) for i in student_ids if i in self.classes]

    def teaching(self, teacher_id: str) -> Teaching:
        self.asked.append(f"teaching {teacher_id}")
        return Teaching(frozenset(self.assignments) if teacher_id == "teacher" else frozenset(), frozenset())

    def class_roster(self, class_id: str) -> ClassRoster | None:
        return None


@pytest.fixture
def school(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'gradebook.db'}")
    gradebook_orm.Base.metadata.create_all(database.engine)
    identity = Identity()
    gradebook = Gradebook(database, identity, people_cache_seconds=60)
    maths = gradebook.create_subject(SECRETARY, "Matematyka", "mat", "")
    identity.assignments.add((CLASS_A, maths))
    return gradebook, identity, maths


def test_reading_a_page_again_does_not_ask_identity_again(school):
    gradebook, identity, maths = school
    gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "ala", "value": "5"}])
    for _ in range(3):
        assert [s.subject.name for s in gradebook.student_grades(MUM, "ala").subjects] == ["Matematyka"]
    assert identity.asked == ["teaching teacher", "students ala"]


def test_a_class_batch_asks_identity_about_its_students_once(school):
    gradebook, identity, maths = school
    pupils = [f"pupil-{n}" for n in range(30)]
    for pupil in pupils:
        identity.classes[pupil], identity.parents[pupil] = CLASS_A, set()
    for value in ("5", "4"):
        views = gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": p, "value": value} for p in pupils])
        assert [v.grade.student_id for v in views] == pupils
    assert identity.asked == ["teaching teacher", f"students {','.join(pupils)}"]  # the second batch asked nothing


def test_a_parent_linked_after_the_copy_was_made_is_not_refused(school):
    gradebook, identity, maths = school
    gradebook.student_grades(MUM, "ala")  # the copy: Ala's parent is mum
    identity.parents["ala"].add("dad")
    dad = Principal(user_id="dad", school_id=SCHOOL, roles=frozenset({"parent"}))
    assert gradebook.student_grades(dad, "ala").student_id == "ala"  # refused on the copy, then asked identity
    assert identity.asked.count("student ala") == 2


def test_a_teacher_given_a_class_after_the_copy_was_made_can_grade_it_at_once(school):
    gradebook, identity, maths = school
    identity.classes["bartek"], identity.parents["bartek"] = CLASS_B, set()
    gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "ala", "value": "4"}])  # copies: teaching 1A only
    identity.assignments.add((CLASS_B, maths))
    [view] = gradebook.record_grades(TEACHER, maths, "", "", [{"student_id": "bartek", "value": "3"}])
    assert view.grade.student_id == "bartek"


def test_a_refusal_without_copies_is_not_asked_twice_and_an_unlinked_parent_loses_access_when_the_copy_ends(school, tmp_path):
    gradebook, identity, maths = school
    stranger = Principal(user_id="stranger", school_id=SCHOOL, roles=frozenset({"parent"}))
    with pytest.raises(NotFound):
        gradebook.student_grades(stranger, "nobody")
    assert identity.asked == ["student nobody"]  # nothing cached was involved: one question

    clock = Clock()
    gradebook.people._students = TtlCache("gradebook_students", 10, timer=clock)
    gradebook.student_grades(MUM, "ala")
    identity.parents["ala"].discard("mum")
    gradebook.student_grades(MUM, "ala")  # within the copy's 10 seconds: still granted (the documented price)
    clock.now += 11
    with pytest.raises(NotFound):
        gradebook.student_grades(MUM, "ala")


def test_an_unlinked_parent_loses_access_as_soon_as_identity_names_them_while_gradebook_follows(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'gradebook.db'}")
    gradebook_orm.Base.metadata.create_all(database.engine)
    identity = Identity()
    gradebook = Gradebook(database, identity, people_cache_seconds=10, people_cache_followed_seconds=600)
    for cache in gradebook.people.caches:
        cache.follow(True)
    gradebook.student_grades(MUM, "ala")
    gradebook.student_grades(MUM, "ala")
    assert identity.asked == ["student ala"]  # kept: followed copies live their 600 seconds

    identity.parents["ala"].discard("mum")
    for cache in gradebook.people.caches:
        cache.drop({"mum"})  # PeopleChanged names the parent: Ala's copy mentions her
    with pytest.raises(NotFound):
        gradebook.student_grades(MUM, "ala")
