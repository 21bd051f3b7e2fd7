"""Warehouse.joins_as_written: the planner's build-side choice is off for one model only, and
a failure inside it keeps its own error and leaves the setting as it was."""
from __future__ import annotations

import duckdb
import pytest


def _disabled(wh) -> str:
    return wh.scalar("select current_setting('disabled_optimizers')")


def test_the_setting_is_back_after_the_model(ledger):
    wh = ledger.wh
    with wh.transaction(), wh.joins_as_written():
        assert "build_side_probe_side" in _disabled(wh)
        wh.scalar("select 1")
    assert _disabled(wh) == ""


def test_a_failing_model_keeps_its_error_and_the_setting_is_reset(ledger):
    wh = ledger.wh
    with pytest.raises(duckdb.ConversionException):  # the model's own error, not "transaction aborted"
        with wh.transaction(), wh.joins_as_written():
            wh.scalar("select 'not a number'::integer")
    assert _disabled(wh) == ""
    assert wh.scalar("select 1") == 1  # the connection is usable


def test_outside_a_transaction_too(ledger):
    wh = ledger.wh
    with pytest.raises(duckdb.ConversionException):
        with wh.joins_as_written():
            wh.scalar("select 'not a number'::integer")
    assert _disabled(wh) == ""
