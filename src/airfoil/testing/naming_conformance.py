"""Conformance of execution names (every :class:`~airfoil.store.base.MetaStore` backend).

An execution's name is unique within its project and domain, never across projects: two
projects may each have a ``nightly-1`` (different ids), and a project resolves a name or an
id to its own execution only. Mixed into each backend's ``MetaStoreConformance`` test class,
with the same ``store`` fixture.
"""

from __future__ import annotations

import pytest

from airfoil.core.errors import ConflictError, NotFoundError
from airfoil.core.records import StoreBatch
from airfoil.store.base import MetaStore
from airfoil.testing.records import make_event, make_execution, make_node

__all__ = ["NamingConformance"]


class NamingConformance:
    """Names per project and domain (revision 0019 in SQL)."""

    def test_two_projects_may_use_one_name(self, store: MetaStore) -> None:
        alpha = make_execution("ida", project="alpha", domain="dev", name="nightly-1")
        beta = make_execution("idb", project="beta", domain="dev", name="nightly-1")
        store.write(StoreBatch(execution=alpha, nodes=[make_node("ida")]))
        store.write(StoreBatch(execution=beta, events=[make_event("idb", seq=1)]))
        assert store.resolve_execution("alpha", "nightly-1") == "ida"
        assert store.resolve_execution("beta", "nightly-1") == "idb"
        assert store.get_execution("ida").name == "nightly-1"
        assert store.get_execution_head("idb").display_name == "nightly-1"
        assert [n.execution_id for n in store.get_nodes("ida")] == ["ida"]
        assert store.get_nodes("idb") == []
        assert [e.execution_id for e in store.get_events("idb")] == ["idb"]

    def test_a_name_is_taken_in_its_own_project_and_domain_only(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution("ida", project="alpha", name="n")))
        again = make_execution("idc", project="alpha", name="n")
        with pytest.raises(ConflictError, match="'n' already exists in project 'alpha'"):
            store.write(StoreBatch(execution=again, events=[make_event("idc", seq=1)]))
        with pytest.raises(NotFoundError):
            store.get_execution("idc")  # nothing of the refused batch was written
        assert store.name_taken("alpha", "dev", "n")
        assert not store.name_taken("beta", "dev", "n")
        assert not store.name_taken("alpha", "prod", "n")
        # rewriting the execution (its driver's batches) keeps its name
        store.write(StoreBatch(execution=make_execution("ida", project="alpha", name="n")))
        assert store.resolve_execution("alpha", "n") == "ida"

    def test_the_projects_that_have_executions(self, store: MetaStore) -> None:
        assert store.execution_projects() == []
        for eid, project, domain in (("a1", "b", "dev"), ("a2", "a", "prod"), ("a3", "b", "x")):
            store.write(StoreBatch(execution=make_execution(eid, project=project, domain=domain)))
        store.write(StoreBatch(execution=make_execution("a4", project="a-b", domain="dev")))
        assert store.execution_projects() == ["a", "a-b", "b"]  # each once, sorted

    def test_another_projects_execution_is_never_resolved(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution("ida", project="alpha", name="n")))
        for ref in ("n", "ida"):
            with pytest.raises(NotFoundError) as caught:
                store.resolve_execution("beta", ref)
            assert "alpha" not in str(caught.value)
        assert store.resolve_execution("alpha", "ida") == "ida"  # the id is an address too

    def test_a_name_in_several_domains_needs_the_domain(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution("d1", project="p", domain="a", name="n")))
        store.write(StoreBatch(execution=make_execution("d2", project="p", domain="b", name="n")))
        with pytest.raises(ConflictError, match="several domains"):
            store.resolve_execution("p", "n")
        assert store.resolve_execution("p", "n", "a") == "d1"
        assert store.resolve_execution("p", "n", "b") == "d2"
        with pytest.raises(NotFoundError):
            store.resolve_execution("p", "n", "c")

    def test_a_generated_id_is_its_own_name(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution("f0abc", project="p", name="")))
        assert store.resolve_execution("p", "f0abc") == "f0abc"
        assert store.name_taken("p", "dev", "f0abc")
        assert store.get_execution_head("f0abc").display_name == "f0abc"

    def test_execution_names_name_the_projects_own_only(self, store: MetaStore) -> None:
        from airfoil.store.naming import ExecutionNames

        store.write(StoreBatch(execution=make_execution("ida", project="alpha", name="n")))
        store.write(StoreBatch(execution=make_execution("idb", project="beta", name="n")))
        store.write(StoreBatch(execution=make_execution("f0old", project="alpha", name="")))
        names = ExecutionNames(store, "alpha")
        assert names.all(["ida", "idb", "f0old", "gone"]) == {"ida": "n", "f0old": "f0old"}
        assert names.of("idb") is None and names.shown("gone") == ""
        assert (names.domain("ida"), names.domain("f0old")) == ("dev", "dev")
        assert names.domain("idb") == names.domain("gone") == ""
        reason = "same version and inputs as execution {} node n0"
        assert names.text(reason.format("ida")) == reason.format("n")
        assert names.text(reason.format("f0old")) == reason.format("f0old")
        hidden = names.text(reason.format("idb"))
        assert "idb" not in hidden and hidden == reason.format("(of another project)")
        assert ExecutionNames(store, "beta").text(reason.format("idb")) == reason.format("n")

    def test_a_name_in_two_domains_is_told_apart_by_its_domain(self, store: MetaStore) -> None:
        from airfoil.store.naming import ExecutionNames

        store.write(StoreBatch(execution=make_execution("t1", project="p", domain="a", name="t")))
        store.write(StoreBatch(execution=make_execution("t2", project="p", domain="b", name="t")))
        names = ExecutionNames(store, "p")
        told = {eid: (names.of(eid), names.domain(eid)) for eid in ("t1", "t2")}
        assert told == {"t1": ("t", "a"), "t2": ("t", "b")}
        for eid, (name, domain) in told.items():
            assert store.resolve_execution("p", str(name), domain) == eid
        assert store.execution_names(["t1", "t2", "gone"]) == {"t1": ("t", "a"), "t2": ("t", "b")}
