"""deployment progress and cause: rollouts run off the request, so their step is visible

- deployment.step: what an executing rollout is doing now (NULL when it is not executing)
- deployment.step_at: since when
- deployment.cause: why a rollout failed, from the backend (the process log's last lines,
  readiness and error-rate figures)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

from controlplane.sqltypes import UTCDateTime


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deployment') as batch:
        batch.add_column(sa.Column('step', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('step_at', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('cause', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deployment') as batch:
        batch.drop_column('cause')
        batch.drop_column('step_at')
        batch.drop_column('step')
