import os
import tempfile

from airfoil.compat.flytekit import WorkflowFailurePolicy, task, workflow
from airfoil.compat.flytekit.types.error import FlyteError

# One name per run, the same in worker processes (they inherit the environment).
RUN = os.environ.setdefault("P19_RUN", str(os.getpid()))
MARKER = os.path.join(tempfile.gettempdir(), f"p19-cleanup-{RUN}.txt")


@task
def fragile(n: int) -> int:
    if n < 0:
        raise ValueError("n must be >= 0")
    return n


@task
def clean_up(n: int, err: FlyteError | None = None) -> None:
    with open(MARKER, "a") as f:
        f.write(f"cleaning up after n={n}: {'error' if err else 'no error'}\n")


@workflow(
    on_failure=clean_up,
    failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
)
def wf(n: int) -> int:
    return fragile(n=n)


if __name__ == "__main__":
    print(wf(n=3))
    try:
        wf(n=-1)
    except Exception:
        print("workflow failed")
    with open(MARKER) as f:
        print(f.read().strip())
    os.remove(MARKER)
