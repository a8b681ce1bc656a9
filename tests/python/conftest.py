"""Shared fixtures of the Python module's tests (make check-python). FACTDB_BUILD names the build whose
`factdb` binary the multi-process tests run (build or build/asan)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("FACTDB_BUILD", "build"))
FACTDB_BIN = os.path.join(BUILD, "factdb")
PYTHON = "/usr/bin/python3"
ASAN = os.environ.get("FACTDB_PY_ASAN") == "1"


def child_env():
    """The environment for child Python processes: the same module (PYTHONPATH) and sanitizer preload."""
    return dict(os.environ)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "t.factdb")


@pytest.fixture
def con(db):
    import factdb
    c = factdb.connect(db)
    yield c
    if not c.closed:
        c.close()


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
