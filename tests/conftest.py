from pathlib import Path

import pytest

SEED = 20261122
REAL_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: opt in with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def real_dir(name: str) -> Path:
    d = REAL_ROOT / name
    if not d.is_dir():
        pytest.skip(f"real dev set {name} not found at {d} (it lives in ../shared/data/real)")
    return d.resolve()
