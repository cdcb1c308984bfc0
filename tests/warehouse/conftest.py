"""One local Spark session per test process, shared by the parity modules (each opens its own
``newSession()``: its own temporary views and settings on the same JVM, so Spark starts once)."""

from __future__ import annotations

import pytest

# Interpreted expressions: compiling each large plan costs more than it saves on test-sized data;
# results do not depend on it.
SPARK_TEST_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@pytest.fixture(scope="session")
def spark_base():
    from evrevops.warehouse.spark import spark_session

    s = spark_session("local[2]", SPARK_TEST_CONF)
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()
