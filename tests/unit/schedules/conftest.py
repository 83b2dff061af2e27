"""Show assertion details from the schedule conformance suite."""

import pytest

pytest.register_assert_rewrite(
    "airfoil.testing.conformance", "airfoil.testing.schedule_conformance"
)
