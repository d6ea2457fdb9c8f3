"""playbook runs: runs, steps, attempts and the idempotency ledger; deployment.kind

- playbook_run: one run of a playbook (its spec snapshot, inputs, status, lease)
- playbook_step: each step's decision, approval, rendered inputs and outcome
- playbook_attempt: each try of a step, by which replica
- playbook_effect: idempotency keys whose action finished (never run twice)
- deployment.kind: deploy | rollback (a playbook's restore is not a deployment for DORA)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

from controlplane.sqltypes import UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('playbook_run',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('playbook', sa.String(length=64), nullable=False),
        sa.Column('playbook_version', sa.String(length=64), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=True),
        sa.Column('inputs', sa.JSON(), nullable=True),
        sa.Column('command', sa.String(length=2000), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=2000), nullable=True),
        sa.Column('environment', sa.String(length=32), nullable=True),
        sa.Column('service', sa.String(length=64), nullable=True),
        sa.Column('requested_by', sa.String(length=128), nullable=False),
        sa.Column('requested_kind', sa.String(length=16), nullable=False),
        sa.Column('via', sa.String(length=16), nullable=False),
        sa.Column('current_step', sa.String(length=64), nullable=True),
        sa.Column('outputs', sa.JSON(), nullable=True),
        sa.Column('cancel_requested', sa.Boolean(), nullable=False),
        sa.Column('cancel_reason', sa.String(length=500), nullable=True),
        sa.Column('compensate_on_cancel', sa.Boolean(), nullable=False),
        sa.Column('lease_owner', sa.String(length=96), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('next_check_at', UTCDateTime(), nullable=True),
        sa.Column('reply_to', sa.String(length=500), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('playbook_run') as batch:
        batch.create_index('ix_playbook_run_playbook', ['playbook'], unique=False)
        batch.create_index('ix_playbook_run_status', ['status'], unique=False)
        batch.create_index('ix_playbook_run_requested_by', ['requested_by'], unique=False)
        batch.create_index('ix_playbook_run_created_at', ['created_at'], unique=False)

    op.create_table('playbook_step',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('step_id', sa.String(length=64), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('operation', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('environment', sa.String(length=32), nullable=True),
        sa.Column('service', sa.String(length=64), nullable=True),
        sa.Column('mode', sa.String(length=16), nullable=True),
        sa.Column('decision_id', sa.String(length=64), nullable=True),
        sa.Column('decision', sa.JSON(), nullable=True),
        sa.Column('approval_id', sa.String(length=32), nullable=True),
        sa.Column('approvers', sa.JSON(), nullable=True),
        sa.Column('inputs', sa.JSON(), nullable=True),
        sa.Column('request_hash', sa.String(length=64), nullable=True),
        sa.Column('attempt_group', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('outputs', sa.JSON(), nullable=True),
        sa.Column('notes', sa.JSON(), nullable=True),
        sa.Column('error', sa.String(length=2000), nullable=True),
        sa.Column('executed_by', sa.String(length=96), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_id', 'step_id'),
    )
    with op.batch_alter_table('playbook_step') as batch:
        batch.create_index('ix_playbook_step_run_id', ['run_id'], unique=False)
        batch.create_index('ix_playbook_step_status', ['status'], unique=False)

    op.create_table('playbook_attempt',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('step_id', sa.String(length=64), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=160), nullable=False),
        sa.Column('owner', sa.String(length=96), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error', sa.String(length=2000), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('playbook_attempt') as batch:
        batch.create_index('ix_playbook_attempt_run_id', ['run_id'], unique=False)

    op.create_table('playbook_effect',
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('outputs', sa.JSON(), nullable=True),
        sa.Column('recorded_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    with op.batch_alter_table('playbook_effect') as batch:
        batch.create_index('ix_playbook_effect_run_id', ['run_id'], unique=False)

    with op.batch_alter_table('deployment') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='deploy'))


def downgrade() -> None:
    with op.batch_alter_table('deployment') as batch:
        batch.drop_column('kind')
    op.drop_table('playbook_effect')
    op.drop_table('playbook_attempt')
    op.drop_table('playbook_step')
    op.drop_table('playbook_run')
