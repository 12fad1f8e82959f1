import os
from pathlib import Path

import pytest

import widenet


@pytest.fixture(scope="session")
def binary() -> Path:
    """The binary under test: $WIDENET_BIN (Scripts/test.sh sets the debug build), else what the
    package finds. None found is a failure, not a skip."""
    return widenet.find_binary()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own directory, so default run directories (runs/...) land there."""
    monkeypatch.chdir(tmp_path)


TINY = dict(n=16, d=4, width=512, backend="cpu")
