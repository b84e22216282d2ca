"""Initial registry schema: parties, shipments, lab assignments, evidence tables, audit log
and idempotency keys (see critmin.registry.models).

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 16:26:45.030395
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('table', sa.String(length=64), nullable=False),
    sa.Column('row_key', sa.String(length=128), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('prev_sha256', sa.String(length=64), nullable=False),
    sa.Column('entry_sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('table', 'row_key', name='uq_audit_row')
    )
    op.create_table('exporters',
    sa.Column('exporter_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('subsoil_use_contract', sa.String(length=128), nullable=True),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('exporter_id')
    )
    op.create_table('idempotency_keys',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('result_json', sa.Text(), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('laboratories',
    sa.Column('laboratory_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('accreditation', sa.String(length=128), nullable=True),
    sa.Column('hired_by', sa.String(length=16), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.CheckConstraint("hired_by IN ('exporter', 'buyer', 'state', 'umpire')", name='ck_lab_hired_by'),
    sa.PrimaryKeyConstraint('laboratory_id')
    )
    op.create_table('users',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('party_id', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.CheckConstraint("role IN ('exporter', 'laboratory', 'inspector', 'auditor', 'admin')", name='ck_user_role'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('shipments',
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('exporter_id', sa.String(length=64), nullable=False),
    sa.Column('hs6', sa.String(length=6), nullable=False),
    sa.Column('commodity', sa.String(length=64), nullable=True),
    sa.Column('wet_t', sa.Float(), nullable=False),
    sa.Column('moisture_pct', sa.Float(), nullable=False),
    sa.Column('dry_t', sa.Float(), nullable=False),
    sa.Column('destination', sa.String(length=3), nullable=False),
    sa.Column('declared_value_usd', sa.Float(), nullable=True),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('lot', sa.String(length=64), nullable=True),
    sa.Column('sub_lot', sa.String(length=64), nullable=True),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['exporter_id'], ['exporters.exporter_id'], ),
    sa.PrimaryKeyConstraint('shipment_id')
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipments_exporter_id'), ['exporter_id'], unique=False)

    op.create_table('certificates',
    sa.Column('certificate_id', sa.String(length=64), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('laboratory_id', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=128), nullable=True),
    sa.Column('element', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('detection_limit', sa.Float(), nullable=True),
    sa.Column('date', sa.Date(), nullable=True),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('version >= 1', name='ck_cert_version'),
    sa.ForeignKeyConstraint(['laboratory_id'], ['laboratories.laboratory_id'], ),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.shipment_id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['certificates.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('supersedes_id')
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_laboratory_id'), ['laboratory_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('control_assays',
    sa.Column('control_id', sa.String(length=64), nullable=True),
    sa.Column('sample_id', sa.String(length=64), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('laboratory_id', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=128), nullable=True),
    sa.Column('element', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('detection_limit', sa.Float(), nullable=True),
    sa.Column('date', sa.Date(), nullable=True),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('version >= 1', name='ck_control_version'),
    sa.ForeignKeyConstraint(['laboratory_id'], ['laboratories.laboratory_id'], ),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.shipment_id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['control_assays.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('supersedes_id')
    )
    with op.batch_alter_table('control_assays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_control_assays_control_id'), ['control_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_control_assays_laboratory_id'), ['laboratory_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_control_assays_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('lab_assignments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('laboratory_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('exporter', 'control', 'umpire')", name='ck_assignment_role'),
    sa.ForeignKeyConstraint(['laboratory_id'], ['laboratories.laboratory_id'], ),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.shipment_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shipment_id', 'laboratory_id', 'role')
    )
    op.create_table('umpire_assays',
    sa.Column('control_id', sa.String(length=64), nullable=True),
    sa.Column('sample_id', sa.String(length=64), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('laboratory_id', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=128), nullable=True),
    sa.Column('element', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('detection_limit', sa.Float(), nullable=True),
    sa.Column('date', sa.Date(), nullable=True),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('version >= 1', name='ck_umpire_version'),
    sa.ForeignKeyConstraint(['laboratory_id'], ['laboratories.laboratory_id'], ),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.shipment_id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['umpire_assays.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('supersedes_id')
    )
    with op.batch_alter_table('umpire_assays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_umpire_assays_control_id'), ['control_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_umpire_assays_laboratory_id'), ['laboratory_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_umpire_assays_shipment_id'), ['shipment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('umpire_assays', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_umpire_assays_shipment_id'))
        batch_op.drop_index(batch_op.f('ix_umpire_assays_laboratory_id'))
        batch_op.drop_index(batch_op.f('ix_umpire_assays_control_id'))

    op.drop_table('umpire_assays')
    op.drop_table('lab_assignments')
    with op.batch_alter_table('control_assays', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_control_assays_shipment_id'))
        batch_op.drop_index(batch_op.f('ix_control_assays_laboratory_id'))
        batch_op.drop_index(batch_op.f('ix_control_assays_control_id'))

    op.drop_table('control_assays')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_shipment_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_laboratory_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_certificate_id'))

    op.drop_table('certificates')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_exporter_id'))

    op.drop_table('shipments')
    op.drop_table('users')
    op.drop_table('laboratories')
    op.drop_table('idempotency_keys')
    op.drop_table('exporters')
    op.drop_table('audit_log')
