"""The forecast tests read the hand-built CRM history of tests/fixtures/pipeline."""

from tests.pipeline.conftest import pipeline_db, wh  # noqa: F401 (fixtures shared with the pipeline tests)
