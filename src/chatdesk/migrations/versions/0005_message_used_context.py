"""whether a bot reply was searched with earlier questions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 19:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages') as batch_op:
        batch_op.add_column(sa.Column('used_context', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('messages') as batch_op:
        batch_op.drop_column('used_context')
