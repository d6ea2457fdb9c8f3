"""governed actions; scoped overrides and suppressions; drift reporters and baselines

- governed_action: every change of the plane itself (override, suppression, incident, token...)
- signal_override: environment scope, the approvers and action behind a suppression; inactive
  overrides set before this revision (never approved) are cleared
- drift_report.reported_by: each drift job speaks for itself
- drift_baseline: a governed reset after which older drift reports stop counting
- incident.environment: incidents scoped to an environment (NULL: every environment)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa

from controlplane.sqltypes import UTCDateTime


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('governed_action',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('environment', sa.String(length=32), nullable=False),
        sa.Column('service', sa.String(length=64), nullable=True),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.Column('request', sa.JSON(), nullable=True),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('requested_by', sa.String(length=128), nullable=False),
        sa.Column('requested_kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('decision_id', sa.String(length=64), nullable=False),
        sa.Column('decision', sa.JSON(), nullable=True),
        sa.Column('approval_id', sa.String(length=32), nullable=True),
        sa.Column('outputs', sa.JSON(), nullable=True),
        sa.Column('failure_reason', sa.String(length=2000), nullable=True),
        sa.Column('executed_by', sa.String(length=128), nullable=True),
        sa.Column('audit_seq', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('governed_action', schema=None) as batch_op:
        batch_op.create_index('ix_governed_action_kind', ['kind'], unique=False)
        batch_op.create_index('ix_governed_action_requested_by', ['requested_by'], unique=False)
        batch_op.create_index('ix_governed_action_status', ['status'], unique=False)
        batch_op.create_index('ix_governed_action_created_at', ['created_at'], unique=False)

    with op.batch_alter_table('signal_override', schema=None) as batch_op:
        batch_op.add_column(sa.Column('environment', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('approved_by', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('action_id', sa.String(length=32), nullable=True))
    # Before this revision any operator could set `inactive`; such overrides were never approved,
    # and from now on an inactive override reads as an approved suppression: end them.
    op.execute(
        sa.text(
            "UPDATE signal_override SET cleared_at = :now "
            "WHERE state = 'inactive' AND cleared_at IS NULL"
        ).bindparams(now=datetime.now(UTC).replace(tzinfo=None))
    )

    with op.batch_alter_table('drift_report', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('reported_by', sa.String(length=128), nullable=False, server_default='unknown')
        )

    op.create_table('drift_baseline',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('service', sa.String(length=64), nullable=False),
        sa.Column('reset_at', UTCDateTime(), nullable=False),
        sa.Column('reset_by', sa.String(length=128), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('action_id', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('drift_baseline', schema=None) as batch_op:
        batch_op.create_index('ix_drift_baseline_service', ['service'], unique=False)

    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('environment', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_column('environment')
    op.drop_table('drift_baseline')
    with op.batch_alter_table('drift_report', schema=None) as batch_op:
        batch_op.drop_column('reported_by')
    with op.batch_alter_table('signal_override', schema=None) as batch_op:
        batch_op.drop_column('action_id')
        batch_op.drop_column('approved_by')
        batch_op.drop_column('environment')
    op.drop_table('governed_action')
