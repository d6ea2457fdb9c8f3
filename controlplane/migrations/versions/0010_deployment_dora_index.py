"""DORA reads a window of finished production deployments from one covering index

Every DORA query is a range of `finished_at` with the columns below: without this index each
window walked the environment index at one random row read per row (1M deployments, 30 days:
3.0 s; with it 0.77 s; bench/RESULTS-dora.md). One more index write per deployment change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = ['finished_at', 'environment', 'status', 'kind', 'service', 'requested_kind',
           'started_at', 'commit_time']


def upgrade() -> None:
    op.create_index('ix_deployment_dora', 'deployment', COLUMNS)


def downgrade() -> None:
    op.drop_index('ix_deployment_dora', table_name='deployment')
