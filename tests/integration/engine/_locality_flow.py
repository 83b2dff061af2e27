"""Tasks for test_locality_preference.py (imported by the engine from this folder)."""

import airfoil as af


@af.task(requests=af.Resources(cpu=1))
def size(data: bytes) -> int:
    return len(data)


@af.task
def total(one: int, many: list[int]) -> int:
    return one + sum(many)


@af.workflow
def wf(data: bytes, items: list[bytes]) -> int:
    return total(one=size(data=data), many=af.map_task(size)(data=items))
