"""One original result per shipment, laboratory and element: a partial unique index on
(shipment_id, laboratory_id, element) WHERE supersedes_id IS NULL on certificates,
control_assays and umpire_assays (see critmin.registry.models.ORIGINAL_KEY).

A database that already holds two originals of one result cannot take the index: the
upgrade looks for them first and stops with `DuplicateOriginalsError` naming the first few,
before changing anything.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = ('certificates', 'control_assays', 'umpire_assays')
KEY = ['shipment_id', 'laboratory_id', 'element']
WHERE = 'supersedes_id IS NULL'
SHOWN = 5   # duplicate results named in the error, per table


def _duplicates(bind, table: str) -> tuple[int, list[tuple]]:
    """(number of duplicated results, the first SHOWN as (shipment, lab, element, ids))."""
    groups = bind.execute(sa.text(
        f'SELECT shipment_id, laboratory_id, element FROM {table} WHERE {WHERE} '
        'GROUP BY shipment_id, laboratory_id, element HAVING COUNT(*) > 1 '
        'ORDER BY shipment_id, laboratory_id, element')).all()
    shown = []
    for shipment, lab, element in groups[:SHOWN]:
        ids = bind.execute(sa.text(
            f'SELECT id FROM {table} WHERE {WHERE} AND shipment_id = :s '
            'AND laboratory_id = :l AND element = :e ORDER BY id'),
            {'s': shipment, 'l': lab, 'e': element}).scalars().all()
        shown.append((shipment, lab, element, ids))
    return len(groups), shown


def _refuse_duplicates() -> None:
    from critmin.registry.evidence import DuplicateOriginalsError
    if op.get_context().as_sql:     # offline (--sql): no rows to look at
        return
    bind = op.get_bind()
    lines = []
    for table in TABLES:
        n, shown = _duplicates(bind, table)
        for shipment, lab, element, ids in shown:
            lines.append(f'  {table}: shipment {shipment!r}, laboratory {lab!r}, element '
                         f'{element!r}: {len(ids)} originals (ids {", ".join(map(str, ids))})')
        if n > len(shown):
            lines.append(f'  {table}: and {n - len(shown)} more duplicated results')
    if lines:
        raise DuplicateOriginalsError(
            'registry upgrade to 0004 stopped, nothing changed: these results have more '
            'than one original (version 1) row, and the registry now allows one per '
            'shipment, laboratory and element:\n' + '\n'.join(lines) + '\n'
            'To resolve: for each, decide with the laboratory which original stands; in one '
            'maintenance transaction remove the other originals (and any corrections of '
            'them), and if a removed value is the one that should stand, file it afterwards '
            'as a correction of the kept original (with expected_version). Evidence is '
            'append-only, so `critmin registry verify` will then name the removed rows: '
            'record the maintenance and the new head anchor. Then run `critmin registry '
            'init` again. All duplicates: SELECT shipment_id, laboratory_id, element, '
            f'COUNT(*) FROM <table> WHERE {WHERE} GROUP BY 1, 2, 3 HAVING COUNT(*) > 1.')


def upgrade() -> None:
    _refuse_duplicates()
    where = sa.text(WHERE)
    for table in TABLES:
        op.create_index(f'uq_{table}_original', table, KEY, unique=True,
                        sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(f'uq_{table}_original', table_name=table)
