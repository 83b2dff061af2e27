import os
import tempfile
import typing

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.file import FlyteFile


@task
def shards(n: int) -> typing.List[FlyteFile]:
    d = tempfile.mkdtemp()
    out = []
    for i in range(n):
        p = os.path.join(d, f"shard-{i}.txt")
        with open(p, "w") as f:
            f.write("word " * (i + 1))
        out.append(FlyteFile(p))
    return out


@task
def word_count(files: typing.List[FlyteFile]) -> typing.Dict[str, int]:
    counts = {}
    for f in files:
        with open(f) as fh:
            counts[os.path.basename(f.path)] = len(fh.read().split())
    return counts


@workflow
def wf(n: int) -> typing.Dict[str, int]:
    return word_count(files=shards(n=n))


if __name__ == "__main__":
    print(sorted(wf(n=3).items()))
