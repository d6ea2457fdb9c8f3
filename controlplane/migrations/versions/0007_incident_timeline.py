"""incidents with a timeline: alerts, events, mitigation, the causing deployment

- incident.mitigated_at, incident.deployment_id (DORA reads the link), incident.open_key (one open
  alert-made incident per service and environment)
- incident_event: the timeline (opened, alert fired/resolved, playbook step, note, resolved)
- incident_alert: Alertmanager alerts by fingerprint

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

from controlplane.sqltypes import UTCDateTime


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incident') as batch:
        batch.add_column(sa.Column('mitigated_at', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('deployment_id', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('open_key', sa.String(length=200), nullable=True))
        batch.create_index('ix_incident_deployment_id', ['deployment_id'])
        batch.create_unique_constraint('uq_incident_open_key', ['open_key'])
    op.create_table('incident_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.String(length=32), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('text', sa.String(length=2000), nullable=False),
        sa.Column('data', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_incident_event_incident_id', 'incident_event', ['incident_id'])
    op.create_table('incident_alert',
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('incident_id', sa.String(length=32), nullable=False),
        sa.Column('alertname', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('severity', sa.String(length=2), nullable=False),
        sa.Column('starts_at', UTCDateTime(), nullable=False),
        sa.Column('ends_at', UTCDateTime(), nullable=True),
        sa.Column('labels', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('fingerprint', 'incident_id'),
    )


def downgrade() -> None:
    op.drop_table('incident_alert')
    op.drop_index('ix_incident_event_incident_id', table_name='incident_event')
    op.drop_table('incident_event')
    with op.batch_alter_table('incident') as batch:
        batch.drop_constraint('uq_incident_open_key', type_='unique')
        batch.drop_index('ix_incident_deployment_id')
        batch.drop_column('open_key')
        batch.drop_column('deployment_id')
        batch.drop_column('mitigated_at')
