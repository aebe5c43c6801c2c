"""Classes, enrolments, teaching assignments, TOTP, session authentication methods, access
policies and entitlements, and login throttling.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.add_column(sa.Column("extended_features", sa.JSON, nullable=False, server_default='["grades", "attendance"]'))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("totp_confirmed_at", TZ, nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer, nullable=True))
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("amr", sa.String(40), nullable=False, server_default="pwd"))
    op.create_table(
        "classes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), sa.ForeignKey("schools.id"), nullable=False, index=True),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("school_year", sa.String(9), nullable=False),
        sa.Column("homeroom_teacher_id", sa.String(36), sa.ForeignKey("users.id"), nullable=True),
        sa.UniqueConstraint("school_id", "school_year", "name", name="uq_class_name"),
    )
    op.create_table(
        "enrolments",
        sa.Column("student_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("class_id", sa.String(36), sa.ForeignKey("classes.id"), primary_key=True, index=True),
        sa.Column("school_year", sa.String(9), nullable=False),
        sa.UniqueConstraint("student_id", "school_year", name="uq_enrolment_year"),
    )
    op.create_table(
        "teaching_assignments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("teacher_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("class_id", sa.String(36), sa.ForeignKey("classes.id"), nullable=False, index=True),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.UniqueConstraint("teacher_id", "class_id", "subject_id", name="uq_teaching"),
    )
    op.create_table(
        "entitlements",
        sa.Column("holder_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("student_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True, index=True),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", TZ, nullable=False),
        sa.Column("blocked_until", TZ, nullable=True),
    )


def downgrade() -> None:
    for table in ("login_throttle", "entitlements", "teaching_assignments", "enrolments", "classes"):
        op.drop_table(table)
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("amr")
    with op.batch_alter_table("users") as batch:
        for column in ("totp_last_step", "totp_confirmed_at", "totp_secret"):
            batch.drop_column(column)
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("extended_features")
