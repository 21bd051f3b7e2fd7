"""Fix requests: refunds, re-credits and reversals, proposed, approved by others, sent, confirmed.

Revision ID: 0001_fix_requests
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001_fix_requests"
down_revision = None
branch_labels = None
depends_on = None

STATES = "('proposed', 'approved', 'declined', 'sending', 'sent', 'accepted', 'rejected', 'confirmed', 'unconfirmed')"
APPROVED = "('approved', 'sending', 'sent', 'accepted', 'rejected', 'confirmed', 'unconfirmed')"


def upgrade() -> None:
    op.create_table(
        "fix_requests",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("break_key", sa.String(300), nullable=False, index=True),
        sa.Column("break_type", sa.String(40), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(128), index=True),
        sa.Column("provider", sa.String(16)),
        sa.Column("provider_txn_id", sa.String(64)),
        sa.Column("credit_id", sa.String(64)),
        sa.Column("product_type", sa.String(32)),
        sa.Column("payment_amount", sa.Numeric(18, 2)),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("max_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("approvals_needed", sa.Integer, nullable=False),
        sa.Column("maker", sa.String(64), nullable=False),
        sa.Column("made_at", sa.DateTime, nullable=False),
        sa.Column("approver_1", sa.String(64)),
        sa.Column("approved_1_at", sa.DateTime),
        sa.Column("approver_2", sa.String(64)),
        sa.Column("approved_2_at", sa.DateTime),
        sa.Column("declined_by", sa.String(64)),
        sa.Column("declined_at", sa.DateTime),
        sa.Column("decline_reason", sa.Text),
        sa.Column("first_sent_at", sa.DateTime, index=True),
        sa.Column("last_sent_at", sa.DateTime),
        sa.Column("send_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("outcome_code", sa.String(64)),
        sa.Column("outcome_message", sa.Text),
        sa.Column("provider_refund_id", sa.String(64)),
        sa.Column("batch_file", sa.String(300)),
        sa.Column("confirmed_on", sa.Date),
        sa.Column("confirmed_at", sa.DateTime),
        sa.Column("raised_at", sa.DateTime),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("amount > 0", name="fix_amount_positive"),
        sa.CheckConstraint("amount <= max_amount", name="fix_amount_within_break"),
        sa.CheckConstraint(f"state in {STATES}", name="fix_state_known"),
        sa.CheckConstraint("kind in ('refund', 'recredit', 'reversal')", name="fix_kind_known"),
        sa.CheckConstraint("approvals_needed in (1, 2)", name="fix_approvals_needed"),
        sa.CheckConstraint("approver_1 is null or approver_1 <> maker", name="fix_checker_not_maker"),
        sa.CheckConstraint("approver_2 is null or (approver_2 <> maker and approver_2 <> approver_1)",
                           name="fix_second_checker_distinct"),
        sa.CheckConstraint(f"not (state in {APPROVED}) or (approver_1 is not null "
                           "and (approvals_needed = 1 or approver_2 is not null))", name="fix_sent_only_approved"),
        sa.CheckConstraint("kind <> 'refund' or (provider is not null and provider_txn_id is not null "
                           "and payment_amount is not null and amount <= payment_amount)",
                           name="fix_refund_names_payment"),
        sa.CheckConstraint("kind <> 'reversal' or credit_id is not null", name="fix_reversal_names_credit"),
    )


def downgrade() -> None:
    op.drop_table("fix_requests")
