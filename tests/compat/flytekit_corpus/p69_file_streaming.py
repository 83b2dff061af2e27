import os
import tempfile

from airfoil.compat.flytekit import current_context, task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile


@task
def drop_short_lines(src: FlyteFile, min_len: int) -> FlyteFile:
    out = FlyteFile.new_remote_file("long_lines.txt")
    with src.open("r") as r, out.open("w") as w:
        for line in r:
            if len(line.strip()) >= min_len:
                w.write(line)
    return out


@task
def count_lines(f: FlyteFile) -> int:
    with open(f) as fh:
        return sum(1 for _ in fh)


@task
def copy_tree(d: FlyteDirectory) -> FlyteDirectory:
    out = FlyteDirectory.new_remote("copied")
    for base, name in sorted(d.crawl()):
        target = out.new_file(name.replace(os.sep, "_"))
        with FlyteFile(os.path.join(base, name)).open("rb") as s, target.open("wb") as t:
            t.write(s.read().upper())
    return out


@task
def describe(d: FlyteDirectory) -> list[str]:
    rows = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name)) as fh:
            rows.append(f"{name}={fh.read()}")
    return rows


@task
def local_output(text: str) -> FlyteFile:
    path = os.path.join(current_context().working_directory, "note.txt")
    with open(path, "w") as fh:
        fh.write(text)
    return FlyteFile(path=path)


@task
def read_back(f: FlyteFile) -> str:
    return f"{os.path.basename(f.path)}:{open(f.download()).read()}"


@workflow
def wf(src: FlyteFile, d: FlyteDirectory, min_len: int = 4) -> tuple[int, list[str], str]:
    kept = drop_short_lines(src=src, min_len=min_len)
    return count_lines(f=kept), describe(d=copy_tree(d=d)), read_back(f=local_output(text="hi"))


if __name__ == "__main__":
    work = tempfile.mkdtemp()
    src = os.path.join(work, "in.txt")
    with open(src, "w") as fh:
        fh.write("a\nabcd\nab\nabcdef\nxyzzy\n")
    tree = os.path.join(work, "tree")
    os.makedirs(os.path.join(tree, "sub"))
    for rel, text in [("one.txt", "first"), ("sub/two.txt", "second")]:
        with open(os.path.join(tree, rel), "w") as fh:
            fh.write(text)
    n, listing, note = wf(src=src, d=tree)
    print(n)
    print(listing)
    print(note)
