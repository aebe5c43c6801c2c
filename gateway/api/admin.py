"""School administration: schools (the platform operator), people, classes, class lists,
subjects and teaching assignments (the school's secretary)."""
from __future__ import annotations

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from dziennik.gradebook.v1 import gradebook_pb2
from dziennik.identity.v1 import identity_pb2
from gateway.api.schemas import IdSchema, StrictBoolean
from gateway.problems import Problem
from gateway.security import accepts, caller

blp = Blueprint("administration", __name__, url_prefix="/api/v1", description="Administracja szkołą")

ROLES = ["school_admin", "principal", "teacher", "parent", "student"]
POLICIES = ["brochure", "statutory"]
_ID = validate.Length(min=1, max=64)
MAX_CSV_BYTES = 512 * 1024


def _identity():
    return current_app.extensions["backends"].identity


def _gradebook():
    return current_app.extensions["backends"].gradebook


def _policy_enum(name: str) -> int:
    return identity_pb2.AccessPolicy.Value(f"ACCESS_POLICY_{name.upper()}")


def role_name(value: int) -> str:
    return identity_pb2.Role.Name(value).removeprefix("ROLE_").lower()


# -- schools --------------------------------------------------------------------------------------


class NewSchoolSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    access_policy = fields.String(validate=validate.OneOf(POLICIES), metadata={"description": "brochure (default) or statutory"})


class SchoolSchema(Schema):
    id = fields.String()
    name = fields.String()
    access_policy = fields.String()


class SchoolChangeSchema(Schema):
    access_policy = fields.String(required=True, validate=validate.OneOf(POLICIES))


@blp.route("/schools", methods=["POST"])
@blp.arguments(NewSchoolSchema)
@blp.response(201, IdSchema)
def create_school(body):
    """Create a school (the platform operator)."""
    answer = _identity().CreateSchool(
        identity_pb2.CreateSchoolRequest(name=body["name"], access_policy=_policy_enum(body.get("access_policy", "brochure"))),
        metadata=caller().metadata,
    )
    return {"id": answer.id}


@blp.route("/schools", methods=["GET"])
@blp.response(200, SchoolSchema(many=True))
def list_schools():
    """Schools the caller administers (all of them for the platform operator)."""
    answer = _identity().ListSchools(identity_pb2.ListSchoolsRequest(), metadata=caller().metadata)
    return [
        {"id": s.id, "name": s.name, "access_policy": identity_pb2.AccessPolicy.Name(s.access_policy).removeprefix("ACCESS_POLICY_").lower()}
        for s in answer.schools
    ]


@blp.route("/schools/<school_id>", methods=["PATCH"])
@blp.arguments(SchoolChangeSchema)
@blp.response(204)
def change_school(body, school_id):
    """Switch the school's access policy preset (which features need extended access)."""
    _identity().UpdateSchool(
        identity_pb2.UpdateSchoolRequest(school_id=school_id, access_policy=_policy_enum(body["access_policy"])), metadata=caller().metadata
    )


# -- people ---------------------------------------------------------------------------------------


class NewUserSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    school_id = fields.String(validate=_ID, metadata={"description": "Only the platform operator names a school."})
    email = fields.String(validate=validate.Length(max=254))
    phone = fields.String(validate=validate.Length(max=30))
    class_id = fields.String(validate=_ID, metadata={"description": "Students: the class to enrol in."})
    children = fields.List(fields.String(validate=_ID), validate=validate.Length(max=20), metadata={"description": "Parents: student ids."})


class NewAccountSchema(Schema):
    id = fields.String()
    login = fields.String()
    activation_code = fields.String(metadata={"description": "One-time code, valid 14 days, to hand to the account's owner."})


class UserSchema(Schema):
    id = fields.String()
    login = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    roles = fields.List(fields.String())
    class_id = fields.String(allow_none=True)
    activated = StrictBoolean()


class UserFilterSchema(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    class_id = fields.String(validate=_ID)
    school_id = fields.String(validate=_ID)


@blp.route("/users", methods=["POST"])
@blp.arguments(NewUserSchema)
@blp.response(201, NewAccountSchema)
def create_user(body):
    """Create an account; its owner activates it with the returned one-time code."""
    answer = _identity().CreateUser(
        identity_pb2.CreateUserRequest(
            role=identity_pb2.Role.Value(f"ROLE_{body['role'].upper()}"),
            first_name=body["first_name"],
            last_name=body["last_name"],
            school_id=body.get("school_id", ""),
            email=body.get("email", ""),
            phone=body.get("phone", ""),
            class_id=body.get("class_id", ""),
            children=body.get("children", []),
        ),
        metadata=caller().metadata,
    )
    return {"id": answer.id, "login": answer.login, "activation_code": answer.activation_code}


@blp.route("/users", methods=["GET"])
@blp.arguments(UserFilterSchema, location="query")
@blp.response(200, UserSchema(many=True))
def list_users(query):
    """The school's people, optionally by role or class."""
    role = query.get("role")
    answer = _identity().ListUsers(
        identity_pb2.ListUsersRequest(
            school_id=query.get("school_id", ""),
            role=identity_pb2.Role.Value(f"ROLE_{role.upper()}") if role else 0,
            class_id=query.get("class_id", ""),
        ),
        metadata=caller().metadata,
    )
    return [
        {
            "id": u.id,
            "login": u.login,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "roles": [role_name(r) for r in u.roles],
            "class_id": u.class_id or None,
            "activated": u.activated,
        }
        for u in answer.users
    ]


# -- classes ----------------------------------------------------------------------------------------


class NewClassSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata={"example": "1A"})
    school_year = fields.String(required=True, validate=validate.Regexp(r"^\d{4}/\d{4}$"), metadata={"example": "2026/2027"})
    homeroom_teacher_id = fields.String(validate=_ID)
    school_id = fields.String(validate=_ID)


class ClassChangeSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=20))
    homeroom_teacher_id = fields.String(allow_none=True, validate=validate.Length(max=64))


class ClassSchema(Schema):
    id = fields.String()
    name = fields.String()
    school_year = fields.String()
    homeroom_teacher_id = fields.String(allow_none=True)


def _class(klass) -> dict:
    return {"id": klass.id, "name": klass.name, "school_year": klass.school_year, "homeroom_teacher_id": klass.homeroom_teacher_id or None}


@blp.route("/classes", methods=["POST"])
@blp.arguments(NewClassSchema)
@blp.response(201, IdSchema)
def create_class(body):
    """Create a class for a school year, optionally with its homeroom teacher (wychowawca)."""
    answer = _identity().CreateClass(
        identity_pb2.CreateClassRequest(
            name=body["name"], school_year=body["school_year"], homeroom_teacher_id=body.get("homeroom_teacher_id", ""), school_id=body.get("school_id", "")
        ),
        metadata=caller().metadata,
    )
    return {"id": answer.id}


@blp.route("/classes", methods=["GET"])
@blp.response(200, ClassSchema(many=True))
def list_classes():
    """The school's classes (staff)."""
    answer = _identity().ListClasses(identity_pb2.ListClassesRequest(school_id=request.args.get("school_id", "")), metadata=caller().metadata)
    return [_class(k) for k in answer.classes]


@blp.route("/classes/<class_id>", methods=["PATCH"])
@blp.arguments(ClassChangeSchema)
@blp.response(200, ClassSchema)
def change_class(body, class_id):
    """Rename a class or change its homeroom teacher (null: none)."""
    change = identity_pb2.UpdateClassRequest(class_id=class_id)
    if "name" in body:
        change.name = body["name"]
    if "homeroom_teacher_id" in body:
        change.homeroom_teacher_id = body["homeroom_teacher_id"] or ""
    answer = _identity().UpdateClass(change, metadata=caller().metadata)
    return _class(getattr(answer, "class"))


class ImportedAccountSchema(Schema):
    id = fields.String()
    login = fields.String()
    activation_code = fields.String(allow_none=True)
    first_name = fields.String()
    last_name = fields.String()
    existing = StrictBoolean(metadata={"description": "A parent already in the school, linked rather than created."})


class ImportedStudentSchema(Schema):
    row = fields.Integer()
    student = fields.Nested(ImportedAccountSchema)
    parents = fields.List(fields.Nested(ImportedAccountSchema))


class ImportReportSchema(Schema):
    created = fields.List(fields.Nested(ImportedStudentSchema))


def _imported(account) -> dict:
    return {
        "id": account.id,
        "login": account.login,
        "activation_code": account.activation_code or None,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "existing": account.existing,
    }


@accepts("text/csv", "text/plain", "application/octet-stream")
@blp.route("/classes/<class_id>/students/import", methods=["POST"])
@blp.response(201, ImportReportSchema)
@blp.doc(requestBody={"content": {"text/csv": {"schema": {"type": "string"}}}})
def import_class_list(class_id):
    """Import a class list from CSV (`text/csv`, `;` or `,`, UTF-8 or Windows-1250): columns
    imie_ucznia; nazwisko_ucznia; imie_rodzica_1; nazwisko_rodzica_1; email_rodzica_1;
    telefon_rodzica_1 (and _2). All or nothing; answers with every account and its activation code."""
    data = request.get_data(cache=False)
    if len(data) > MAX_CSV_BYTES:
        raise Problem("payload_too_large", f"Plik CSV może mieć najwyżej {MAX_CSV_BYTES // 1024} KiB.")
    answer = _identity().ImportClassList(identity_pb2.ImportClassListRequest(class_id=class_id, csv=data), metadata=caller().metadata)
    return {
        "created": [
            {"row": s.row, "student": _imported(s.student), "parents": [_imported(p) for p in s.parents]} for s in answer.students
        ]
    }


# -- subjects and teaching ----------------------------------------------------------------------------


class NewSubjectSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    short_name = fields.String(validate=validate.Length(max=20))


class SubjectSchema(Schema):
    id = fields.String()
    name = fields.String()
    short_name = fields.String()


class NewAssignmentSchema(Schema):
    teacher_id = fields.String(required=True, validate=_ID)
    class_id = fields.String(required=True, validate=_ID)
    subject_id = fields.String(required=True, validate=_ID)


@blp.route("/subjects", methods=["POST"])
@blp.arguments(NewSubjectSchema)
@blp.response(201, IdSchema)
def create_subject(body):
    """Create a subject of the school."""
    answer = _gradebook().CreateSubject(
        gradebook_pb2.CreateSubjectRequest(name=body["name"], short_name=body.get("short_name", "")), metadata=caller().metadata
    )
    return {"id": answer.id}


@blp.route("/subjects", methods=["GET"])
@blp.response(200, SubjectSchema(many=True))
def list_subjects():
    """The school's subjects."""
    answer = _gradebook().ListSubjects(gradebook_pb2.ListSubjectsRequest(), metadata=caller().metadata)
    return [{"id": s.id, "name": s.name, "short_name": s.short_name} for s in answer.subjects]


@blp.route("/teaching-assignments", methods=["POST"])
@blp.arguments(NewAssignmentSchema)
@blp.response(201, IdSchema)
def create_teaching_assignment(body):
    """A teacher teaches a subject in a class."""
    # The subject is gradebook's: it must exist in the caller's school (404 otherwise).
    _gradebook().GetSubject(gradebook_pb2.GetSubjectRequest(subject_id=body["subject_id"]), metadata=caller().metadata)
    answer = _identity().CreateTeachingAssignment(
        identity_pb2.CreateTeachingAssignmentRequest(teacher_id=body["teacher_id"], class_id=body["class_id"], subject_id=body["subject_id"]),
        metadata=caller().metadata,
    )
    return {"id": answer.id}
