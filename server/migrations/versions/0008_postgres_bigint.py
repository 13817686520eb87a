"""64-bit integers where 32 bits can overflow, on PostgreSQL

``edit.client_seq`` takes any seq a client sends (up to 2**53 - 1), point
counts of big scenes pass 2**31, and ``edit.id`` numbers every edit ever
made. PostgreSQL's ``integer`` stops at 2**31 - 1, so these become
``bigint`` there (with the edit id sequence). SQLite's integers are 64-bit
already: nothing changes on SQLite.

Revision ID: 0008_postgres_bigint
Revises: 0007_quality
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_postgres_bigint"
down_revision = "0007_quality"
branch_labels = None
depends_on = None

COLUMNS = (
    ("edit", "id"),
    ("edit", "client_seq"),
    ("scene", "point_count"),
    ("frame", "point_count"),
    ("frame", "dropped_points"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    _edit_id_sequence("bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _edit_id_sequence("integer")
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())


def _edit_id_sequence(type_name: str) -> None:
    """Its name depends on history (0003 rebuilt the table), so it is looked up."""
    seq = op.get_bind().execute(sa.text("SELECT pg_get_serial_sequence('edit', 'id')")).scalar()
    if seq is not None:
        op.execute(f"ALTER SEQUENCE {seq} AS {type_name}")
