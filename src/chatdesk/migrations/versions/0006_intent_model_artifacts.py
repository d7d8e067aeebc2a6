"""intent model artifacts: each version's model folder in the database, and the active run

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intent_model_artifacts',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('archive', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_intent_model_artifacts'))
    )
    with op.batch_alter_table('intent_model_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_run_id', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('intent_model_state', schema=None) as batch_op:
        batch_op.drop_column('active_run_id')
    op.drop_table('intent_model_artifacts')
