"""What every parser shares: the parse result, the error that names file, line and cause,
and the check of parsed rows against the file's own totals."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc


class ParseError(Exception):
    """A file that cannot be loaded as it is. Quarantine it with ``str(error)`` as the reason."""

    def __init__(self, file: Path | str, line: int | None, cause: str, member: str | None = None):
        self.file = str(file)
        self.line = line
        self.cause = cause
        self.member = member
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file + (f"!{self.member}" if self.member else "")
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where}: {self.cause}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "member": self.member, "line": self.line, "cause": self.cause}


@dataclass(frozen=True)
class StatementTotals:
    """What a statement says about itself (footer, summary member or summary row).

    Any figure the file does not state is None and is not checked. Amounts are positive
    magnitudes; ``fee_total`` follows the canonical sign (payments +, refunds −).
    """

    row_count: int | None = None  # all detail rows, where the file counts them that way
    payment_count: int | None = None
    payment_amount: Decimal | None = None
    refund_count: int | None = None
    refund_amount: Decimal | None = None
    fee_total: Decimal | None = None
    settle_amount: Decimal | None = None  # payments' settle_amount total, where stated


@dataclass
class ParsedFile:
    path: Path
    rows: pa.Table  # the source's schema from etl.schema
    totals: StatementTotals | None = None
    members: list[str] = field(default_factory=list)  # zip members parsed / kept
    warnings: list[str] = field(default_factory=list)  # e.g. unknown transaction codes kept


def _sum(table: pa.Table, column: str, mask: pa.Array) -> Decimal:
    value = pc.sum(pc.filter(table[column], mask)).as_py()
    return Decimal(0) if value is None else Decimal(value)


def computed_totals(rows: pa.Table) -> StatementTotals:
    """The same figures as StatementTotals, computed from parsed canonical payment rows."""
    pay = pc.equal(rows["kind"], "payment")
    ref = pc.equal(rows["kind"], "refund")
    return StatementTotals(
        row_count=rows.num_rows,
        payment_count=pc.sum(pay).as_py() or 0,
        payment_amount=_sum(rows, "amount", pay),
        refund_count=pc.sum(ref).as_py() or 0,
        refund_amount=_sum(rows, "amount", ref),
        fee_total=_sum(rows, "fee", pc.is_valid(rows["fee"])),
        settle_amount=_sum(rows, "settle_amount", pay),
    )


def check_totals(path: Path, rows: pa.Table, stated: StatementTotals, member: str | None = None) -> None:
    """Raise ParseError when a figure the file states disagrees with its parsed rows."""
    ours = computed_totals(rows)
    for name in StatementTotals.__dataclass_fields__:
        want = getattr(stated, name)
        if want is None:
            continue
        got = getattr(ours, name)
        if Decimal(want) != Decimal(got):
            raise ParseError(
                path, None, f"totals disagree: the file states {name}={want}, its rows add up to {got} "
                "(truncated or corrupt file)", member,
            )
