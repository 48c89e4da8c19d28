"""The value-set fixture of the deploy tests; their helpers are in ``tests.support.chart``."""

from __future__ import annotations

import pytest

from tests.support.chart import VALUE_SETS


@pytest.fixture(params=sorted(VALUE_SETS))
def value_set(request: pytest.FixtureRequest) -> str:
    return request.param
