"""Attendance: timetable and lessons, attendance marks, excuses (domain arrives with its issue)."""
