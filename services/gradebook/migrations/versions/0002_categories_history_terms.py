"""Grade categories, per-school grade settings, grade history and concurrency, term grades.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "grade_categories",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("weight", sa.Integer, nullable=False),
        sa.Column("counts_to_average", sa.Boolean, nullable=False),
        sa.UniqueConstraint("school_id", "name", name="uq_category_name"),
    )
    op.create_table(
        "grade_settings",
        sa.Column("school_id", sa.String(36), primary_key=True),
        sa.Column("plus", sa.Numeric(4, 2), nullable=False),
        sa.Column("minus", sa.Numeric(4, 2), nullable=False),
        sa.Column("improved_original_counts", sa.Boolean, nullable=False),
        sa.Column("allowed_marks", sa.JSON, nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("second_semester_starts", sa.String(5), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    with op.batch_alter_table("grades") as batch:
        batch.add_column(sa.Column("class_id", sa.String(36), nullable=False, server_default=""))
        batch.add_column(sa.Column("school_year", sa.String(9), nullable=False, server_default=""))
        batch.add_column(sa.Column("points", sa.Numeric(7, 2), nullable=True))
        batch.add_column(sa.Column("max_points", sa.Numeric(7, 2), nullable=True))
        batch.add_column(sa.Column("improves_grade_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("updated_at", TZ, nullable=True))
        batch.add_column(sa.Column("deleted_at", TZ, nullable=True))
        batch.create_index("ix_grades_class_id", ["class_id"])
    op.create_table(
        "term_grades",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.String(36), nullable=False, index=True),
        sa.Column("student_id", sa.String(36), nullable=False, index=True),
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("school_year", sa.String(9), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(4), nullable=False),
        sa.Column("teacher_id", sa.String(36), nullable=False),
        sa.Column("set_at", TZ, nullable=False),
        sa.UniqueConstraint("student_id", "subject_id", "school_year", "kind", name="uq_term_grade"),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False, index=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(36), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("old", sa.JSON, nullable=True),
        sa.Column("new", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("history")
    op.drop_table("term_grades")
    with op.batch_alter_table("grades") as batch:
        batch.drop_index("ix_grades_class_id")
        for column in ("deleted_at", "updated_at", "version", "improves_grade_id", "max_points", "points", "school_year", "class_id"):
            batch.drop_column(column)
    op.drop_table("grade_settings")
    op.drop_table("grade_categories")
