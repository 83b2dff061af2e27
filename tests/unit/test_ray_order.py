"""The order of the multi-node Ray tests (``tests/_ray_order.py``): modules asking for the same
worker nodes run one after the other, a module that kills a node last, and only an item
directly followed by one of the same shapes hands its nodes on."""

from __future__ import annotations

from dataclasses import dataclass

from _ray_order import Grouping, order_by_nodes


@dataclass(frozen=True)
class Item:
    nodeid: str
    shape: str | None = None
    kills: bool = False

    @property
    def module(self) -> str:
        return self.nodeid.split("::")[0]


def _grouping(item: Item) -> Grouping:
    return (item.module, item.shape, item.kills)


def _ids(items: list[Item]) -> list[str]:
    return [i.nodeid for i in items]


def test_modules_of_one_shape_run_together_a_killer_last_and_hand_their_nodes_on() -> None:
    items = [
        Item("a.py::t", "S", kills=True),
        Item("b.py::t1"),
        Item("c.py::t", "T"),
        Item("d.py::t1", "S"),
        Item("d.py::t2", "S"),
        Item("e.py::t"),
    ]
    ordered, keep = order_by_nodes(items, _grouping)
    assert _ids(ordered) == ["d.py::t1", "d.py::t2", "a.py::t", "b.py::t1", "c.py::t", "e.py::t"]
    # d's tests hand on to each other and its module to a; a (last of S) and T keep nothing.
    assert keep == {"d.py::t1", "d.py::t2", "d.py"}


def test_items_without_nodes_keep_their_order_and_nothing_is_kept() -> None:
    items = [Item("a.py::t"), Item("b.py::t", "S"), Item("c.py::t"), Item("d.py::t", "T")]
    ordered, keep = order_by_nodes(items, _grouping)
    assert ordered == items
    assert keep == set()


def test_ordering_twice_changes_nothing() -> None:
    items = [Item("a.py::t", "S", kills=True), Item("b.py::t"), Item("c.py::t", "S")]
    once, keep = order_by_nodes(items, _grouping)
    twice, keep_again = order_by_nodes(once, _grouping)
    assert twice == once and keep_again == keep == {"c.py::t", "c.py"}
