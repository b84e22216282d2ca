"""Tariffs: contract terms registered by an administrator, effective from a date.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 18:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tariffs',
    sa.Column('tariff_id', sa.String(length=64), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('terms_yaml', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('registered_by', sa.String(length=64), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tariff_id')
    )
    op.create_index('ix_tariffs_effective_from', 'tariffs', ['effective_from'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tariffs_effective_from', table_name='tariffs')
    op.drop_table('tariffs')
