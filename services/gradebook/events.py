"""Events gradebook emits."""
from dziennik.gradebook.v1 import events_pb2

from platform_kit.bus import EventType

GRADE_RECORDED = EventType("gradebook.grade_recorded.v1", events_pb2.GradeRecorded)
