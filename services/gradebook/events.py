"""Events gradebook emits; each carries the names an alert needs (GradeContext)."""
from dziennik.gradebook.v1 import events_pb2

from platform_kit.bus import EventType

GRADE_RECORDED = EventType("gradebook.grade_recorded.v1", events_pb2.GradeRecorded)
GRADE_CHANGED = EventType("gradebook.grade_changed.v1", events_pb2.GradeChanged)
GRADE_DELETED = EventType("gradebook.grade_deleted.v1", events_pb2.GradeDeleted)
TERM_GRADE_SET = EventType("gradebook.term_grade_set.v1", events_pb2.TermGradeSet)
# Not an alert's: says which students' grades pages changed (services/gradebook/pages.py).
PAGES_CHANGED = EventType("gradebook.pages_changed.v1", events_pb2.PagesChanged)
