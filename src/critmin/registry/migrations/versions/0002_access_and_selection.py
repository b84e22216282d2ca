"""Access and control sampling: hashed bearer tokens, revocations of users and tokens, and
stored control-sampling selections with their picks (see critmin.registry.models).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('token_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=128), nullable=True),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('session', 'api')", name='ck_token_kind'),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('token_id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_index('ix_api_tokens_user_id', 'api_tokens', ['user_id'], unique=False)
    op.create_table('revocations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("subject IN ('user', 'token')", name='ck_revoked_subject'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subject', 'subject_id')
    )
    op.create_table('selections',
    sa.Column('selection_id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('budget', sa.Integer(), nullable=False),
    sa.Column('random_share', sa.Float(), nullable=False),
    sa.Column('policy', sa.String(length=16), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('candidates', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('selection_id')
    )
    op.create_table('selection_picks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('selection_id', sa.String(length=64), nullable=False),
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('score_usd', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['selection_id'], ['selections.selection_id'], ),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.shipment_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('selection_id', 'shipment_id')
    )
    op.create_index('ix_selection_picks_selection_id', 'selection_picks', ['selection_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_selection_picks_selection_id', table_name='selection_picks')
    op.drop_table('selection_picks')
    op.drop_table('selections')
    op.drop_table('revocations')
    op.drop_index('ix_api_tokens_user_id', table_name='api_tokens')
    op.drop_table('api_tokens')
