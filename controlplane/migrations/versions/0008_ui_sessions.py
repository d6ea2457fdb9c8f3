"""dashboard sessions: a token exchanged for an HttpOnly cookie (only its hash is stored)

- ui_session: id_hash (sha256 of the cookie value), identity, the token it came from, expiry

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

from controlplane.sqltypes import UTCDateTime


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ui_session',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('identity_id', sa.String(length=32), nullable=False),
        sa.Column('token_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    op.create_index('ix_ui_session_identity_id', 'ui_session', ['identity_id'])
    op.create_index('ix_ui_session_token_id', 'ui_session', ['token_id'])
    op.create_index('ix_ui_session_expires_at', 'ui_session', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_ui_session_expires_at', table_name='ui_session')
    op.drop_index('ix_ui_session_token_id', table_name='ui_session')
    op.drop_index('ix_ui_session_identity_id', table_name='ui_session')
    op.drop_table('ui_session')
