"""Fixtures shared by every simulator test (core and Databricks).

sim       -- session-wide running simulator (drsim.app.Running: .port .ca .url(kind, path))
client    -- drsim.testing.SimClient; the simulator state and faults are reset before each test
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drsim import app, testing  # noqa: E402


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    testing.patch_dns()
    tls_dir = str(tmp_path_factory.mktemp("tls"))
    running = app.start(port=0, tls_dir=tls_dir)
    azurite = testing.Azurite(tls_dir)      # table data: Delta tables in Azurite
    running.azurite = azurite
    yield running
    running.stop()
    azurite.stop()


@pytest.fixture
def client(sim):
    testing.reset()
    c = testing.SimClient(sim)
    yield c
    c.session.close()
