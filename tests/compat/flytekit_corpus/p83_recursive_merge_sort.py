"""Recursion through a dynamic workflow and a conditional (flytesnacks' merge sort idiom):
the workflow calls a dynamic task that calls the workflow again on each half."""

import typing
from random import Random
from typing import Tuple

from airfoil.compat.flytekit import conditional, dynamic, task, workflow


@task
def halves(numbers: typing.List[int]) -> Tuple[typing.List[int], typing.List[int], int, int]:
    mid = len(numbers) // 2
    return numbers[:mid], numbers[mid:], mid, len(numbers) - mid


@task
def merge(left: typing.List[int], right: typing.List[int]) -> typing.List[int]:
    out = []
    left, right = list(left), list(right)
    while left and right:
        out.append(left.pop(0) if left[0] <= right[0] else right.pop(0))
    return out + left + right


@task
def sort_here(numbers: typing.List[int]) -> typing.List[int]:
    return sorted(numbers)


@dynamic
def sort_split(numbers: typing.List[int], cutoff: int) -> typing.List[int]:
    a, b, na, nb = halves(numbers=numbers)
    sa = merge_sort(numbers=a, count=na, cutoff=cutoff)
    sb = merge_sort(numbers=b, count=nb, cutoff=cutoff)
    return merge(left=sa, right=sb)


@workflow
def merge_sort(numbers: typing.List[int], count: int, cutoff: int = 4) -> typing.List[int]:
    return (
        conditional("small_enough")
        .if_(count <= cutoff)
        .then(sort_here(numbers=numbers))
        .else_()
        .then(sort_split(numbers=numbers, cutoff=cutoff))
    )


if __name__ == "__main__":
    rng = Random(7)
    xs = [rng.randint(0, 999) for _ in range(13)]
    print(xs)
    result = merge_sort(numbers=xs, count=len(xs))
    print(result)
    print(result == sorted(xs))
