"""Exports the law asks for, built from the services' answers (no Flask here, so they are tested
on their own): the class register as XML (register.py, checked against register.xsd beside it)
and everything held about a student for their parent (student.py, RODO art. 15)."""
