"""Lists and dicts of files and frames, an optional file input with a None default, and a
file returned by a workflow read by the script."""

import os
import tempfile
import typing

import pandas as pd

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.file import CSVFile, FlyteFile


@task
def shards(n: int) -> typing.List[pd.DataFrame]:
    return [pd.DataFrame({"shard": [i] * (i + 1), "v": list(range(i + 1))}) for i in range(n)]


@task
def write_each(frames: typing.List[pd.DataFrame]) -> typing.Dict[str, CSVFile]:
    out = {}
    work = tempfile.mkdtemp()
    for i, frame in enumerate(frames):
        path = os.path.join(work, f"shard{i}.csv")
        frame.to_csv(path, index=False)
        out[f"s{i}"] = FlyteFile(path)
    return out


@task
def merge_files(
    files: typing.Dict[str, CSVFile], header: typing.Optional[FlyteFile] = None
) -> FlyteFile:
    frames = [pd.read_csv(files[k]) for k in sorted(files)]
    merged = pd.concat(frames, ignore_index=True)
    path = os.path.join(tempfile.mkdtemp(), "merged.csv")
    title = "merged"
    if header is not None:
        with open(header) as f:
            title = f.read().strip()
    with open(path, "w") as f:
        f.write(f"# {title}\n")
        merged.to_csv(f, index=False)
    return FlyteFile(path)


@task
def sizes(frames: typing.List[pd.DataFrame]) -> typing.Dict[str, int]:
    return {f"s{i}": len(f) for i, f in enumerate(frames)}


@workflow
def files_wf(n: int = 3) -> typing.Tuple[FlyteFile, typing.Dict[str, int]]:
    frames = shards(n=n)
    return merge_files(files=write_each(frames=frames)), sizes(frames=frames)


@workflow
def titled_wf(header: FlyteFile, n: int = 2) -> FlyteFile:
    return merge_files(files=write_each(frames=shards(n=n)), header=header)


if __name__ == "__main__":
    merged, counts = files_wf(n=3)
    with open(merged) as f:
        print(f.read().strip())
    print(os.path.basename(merged.path), counts)
    head = os.path.join(tempfile.mkdtemp(), "title.txt")
    with open(head, "w") as f:
        f.write("quarterly\n")
    with open(titled_wf(header=FlyteFile(head), n=2)) as f:
        print(f.readline().strip())
