"""Slack requests already taken, shared by every replica (replay refusal across the fleet)

- chat_request_seen: key (sha256 of timestamp:signature), until (when verify would refuse it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

from controlplane.sqltypes import UTCDateTime


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_request_seen',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('until', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_chat_request_seen_until', 'chat_request_seen', ['until'])


def downgrade() -> None:
    op.drop_index('ix_chat_request_seen_until', table_name='chat_request_seen')
    op.drop_table('chat_request_seen')
