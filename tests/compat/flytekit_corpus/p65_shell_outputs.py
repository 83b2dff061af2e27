import os
import tempfile

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.extras.tasks.shell import OutputLocation, ShellTask
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile

OUT = tempfile.mkdtemp(prefix="p65-")

split_words = ShellTask(
    name="split_words",
    debug=False,
    script="""
    set -e
    mkdir -p {outputs.parts}
    for w in $(cat {inputs.text}); do echo "$w" > {outputs.parts}/$w.txt; done
    wc -w < {inputs.text} | tr -d ' ' > {outputs.count}
    """,
    inputs=kwtypes(text=FlyteFile, tag=str),
    output_locs=[
        OutputLocation(var="parts", var_type=FlyteDirectory, location=OUT + "/{inputs.tag}-parts"),
        OutputLocation(var="count", var_type=FlyteFile, location=OUT + "/{inputs.tag}-count.txt"),
    ],
)


@task
def write(words: str) -> FlyteFile:
    path = os.path.join(tempfile.mkdtemp(), "words.txt")
    with open(path, "w") as f:
        f.write(words)
    return FlyteFile(path)


@task
def summarize(parts: FlyteDirectory, count: FlyteFile) -> str:
    names = sorted(os.listdir(parts.download()))
    with open(count) as f:
        n = f.read().strip()
    return f"{n} words: {', '.join(n.removesuffix('.txt') for n in names)}"


@workflow
def wf(words: str, tag: str) -> str:
    parts, count = split_words(text=write(words=words), tag=tag)
    return summarize(parts=parts, count=count)


if __name__ == "__main__":
    print(wf(words="delta alpha charlie bravo", tag="first"))
    print(wf(words="one two", tag="second"))
