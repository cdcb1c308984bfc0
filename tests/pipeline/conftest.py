"""The hand-built CRM history of tests/fixtures/pipeline, as a warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from evrevops.warehouse.db import open_warehouse
from tests.helpers.warehouse import warehouse_of

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "pipeline"


@pytest.fixture(scope="session")
def pipeline_db(tmp_path_factory):
    return warehouse_of(FOLDER, tmp_path_factory.mktemp("pipeline") / "pipeline.duckdb")


@pytest.fixture(scope="module")
def wh(pipeline_db):
    w = open_warehouse(pipeline_db, read_only=True)
    yield w
    w.close()
