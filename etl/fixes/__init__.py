"""Remediation: from a break to its fix (docs/REMEDIATION.md).

- ``kinds``: which break has which fix (补充值 re-credit, 退款 refund, 冲正 reversal) and the
  idempotency key of each fix, derived from the break;
- ``targets``: what a fix may move, read from the warehouse (sql/fixes/);
- ``senders``: provider refunds, signed with the statement downloads' code;
- ``billing_batch``: re-credits and reversals as a batch file for the billing system (BOSS);
- ``requests``: the fix requests, their states and who may move them (maker-checker);
- ``confirm``: the night's run proves a sent fix happened.
"""
