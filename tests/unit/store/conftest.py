"""Show assertion details from the shared conformance suite."""

import pytest

pytest.register_assert_rewrite(
    "airfoil.testing.conformance",
    "airfoil.testing.scheduling_conformance",
    "airfoil.testing.cache_scope_conformance",
    "airfoil.testing.registry_conformance",
    "airfoil.testing.secret_conformance",
    "airfoil.testing.artifact_conformance",
    "airfoil.testing.admission_conformance",
)
