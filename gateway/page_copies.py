"""Each gateway worker's copies of students' grades pages (issue #11: the 8:00 surge).

gradebook keeps a page as it is served (services/gradebook/pages.py) and answers it in one
statement; a copy in the worker that serves it saves that whole hop — gradebook's gRPC server,
its statement and the call — for the page's next reads. The rules:

- A copy is kept and used only while the worker follows gradebook's `PagesChanged` (recorded in
  the transaction of every change a page shows) and identity's `PeopleChanged` (platform_kit/bus/
  follower.py): a change drops the copies of the students it names, a change of a school's
  grading rules drops them all. So a page lags a new grade by the event's trip (moments), and
  when the broker goes the copies go unused at once (platform_kit/cache.py). If events stop
  while the connection stays (gradebook's relay down), a copy is still used no longer than
  GATEWAY_PAGE_COPY_SECONDS.
- Only the student and their parents are answered from a copy: identity's access answer vouches
  for them as people (`CheckAccessResponse.family`). Staff pass identity on their role and
  gradebook checks which students they teach, so staff always go to gradebook.
- A copy holds the page gzip-compressed, as gradebook stored it; a client that does not take gzip
  gets it inflated. The copies of a worker share a byte budget, GATEWAY_PAGE_COPIES_MB.
"""
from __future__ import annotations

from collections.abc import Callable

from dziennik.gradebook.v1 import events_pb2, gradebook_pb2
from platform_kit.bus.follower import PEOPLE_CHANGED_KEY, ChangeFollower, dropping_people
from platform_kit.cache import TtlCache

PAGES_CHANGED_KEY = "gradebook.pages_changed.v1"
COPY_OVERHEAD_BYTES = 400  # the message, its version and the key, beside the page's bytes

PageCopies = TtlCache[gradebook_pb2.GetStudentGradesPageResponse]


def page_copies(megabytes: float, seconds: float) -> PageCopies:
    """Keyed (student, school year as asked); about the student. Each copy lives 80–100 % of
    `seconds`: pages first read in the same second at 8:00 go back to gradebook spread over the
    last fifth of their life, not in one burst."""
    return TtlCache(
        "gateway_pages", 0, maxsize=int(megabytes * 2**20), followed_seconds=seconds if megabytes else 0.0,
        mentions=lambda key, _page: key[:1], sizeof=lambda page: len(page.page_gzip) + COPY_OVERHEAD_BYTES,
        shortest_life=0.8,
    )


def dropping_pages(copies: PageCopies) -> Callable[[bytes], None]:
    """What a PagesChanged body does to the copies: the named students' go (a school's rules: all)."""

    def apply(body: bytes) -> None:
        change = events_pb2.PagesChanged.FromString(body)
        if change.school_ids:
            copies.clear()
        else:
            copies.drop(change.student_ids)

    return apply


def changes_follower(amqp_url: str, access_answers: TtlCache, copies: PageCopies) -> ChangeFollower:
    """A worker's follower (not started): identity's changes drop access answers and the named
    students' pages, gradebook's drop pages."""
    routes = {PEOPLE_CHANGED_KEY: dropping_people([access_answers, copies]), PAGES_CHANGED_KEY: dropping_pages(copies)}
    return ChangeFollower(amqp_url, "gateway", routes, [access_answers, copies])


def follow_changes(amqp_url: str, access_answers: TtlCache, copies: PageCopies) -> ChangeFollower:
    return changes_follower(amqp_url, access_answers, copies).start()
