"""Running out of memory or disk while parsing is the machine's fault, not the file's: the run
fails and the file stays in the landing zone (quarantining it would lose a good file)."""
import shutil
from datetime import date

import duckdb
import pytest

from etl.config import load_settings
from etl.ingest import ledgers, stage
from tests.conftest import paths_env


@pytest.mark.parametrize("error", [duckdb.OutOfMemoryException("could not allocate"),
                                   duckdb.IOException("Failed to create directory spill"), MemoryError()],
                         ids=["duckdb-oom", "spill-dir", "python-oom"])
def test_resource_error_fails_the_stage_and_keeps_the_file(small_landing, tmp_path, monkeypatch, error):
    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))

    def out_of_resources(*args):
        raise error

    monkeypatch.setattr(ledgers, "stage", out_of_resources)  # the orders parser, as staging calls it
    with pytest.raises(type(error)):
        stage.stage_source(settings, date(2026, 11, 1), "orders")
    assert list((tmp_path / "landing" / "2026-11-01" / "orders").iterdir())
    assert not (tmp_path / "quarantine").exists()


def test_parsing_spills_into_a_folder_it_creates(tmp_path, monkeypatch):
    from etl.ingest import base
    from etl.ingest.base import configure_parsing, parsing_connection

    monkeypatch.setattr(base, "_PARSE_CONFIG", {})  # this process's other tests keep theirs

    spill = tmp_path / "deep" / "staging" / ".spill"
    configure_parsing("64MB", 1, spill)
    with parsing_connection() as con:
        assert con.execute("select current_setting('temp_directory')").fetchone()[0] == str(spill)
    assert spill.is_dir()
