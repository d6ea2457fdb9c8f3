"""audit filters read newest first without sorting every match

The single-column indexes on actor, environment, service and result become (column, seq): the
same number of index writes per append, and `WHERE actor = ? ORDER BY seq DESC LIMIT 51` walks
one index and stops, instead of sorting all of that actor's records (100,000 records: ~100 ms
to under 1 ms in SQLite). (actor_kind, seq) serves the dashboard's kind filter.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

COLUMNS = ('actor', 'environment', 'service', 'result')


def upgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f'ix_audit_log_{column}', table_name='audit_log')
        op.create_index(f'ix_audit_log_{column}_seq', 'audit_log', [column, 'seq'])
    op.create_index('ix_audit_log_actor_kind_seq', 'audit_log', ['actor_kind', 'seq'])


def downgrade() -> None:
    op.drop_index('ix_audit_log_actor_kind_seq', table_name='audit_log')
    for column in COLUMNS:
        op.drop_index(f'ix_audit_log_{column}_seq', table_name='audit_log')
        op.create_index(f'ix_audit_log_{column}', 'audit_log', [column])
