from airfoil.compat.flytekit import WorkflowFailurePolicy, task, workflow


@task
def provision(name: str):
    print(f"provision {name}")


@task
def flaky(n: int):
    print(f"flaky {n}")
    raise RuntimeError("boom")


@task
def teardown(name: str):
    print(f"teardown {name}")


@task
def cleanup(name: str):
    print(f"cleanup {name}")


@workflow
def cleanup_wf(name: str):
    cleanup(name=name)


@workflow(on_failure=cleanup)
def inner(name: str):
    a = provision(name=name)
    b = flaky(n=1)
    c = teardown(name=name)
    a >> b >> c


@workflow(on_failure=cleanup_wf)
def outer(name: str = "prod"):
    a = provision(name=name)
    b = flaky(n=2)
    a >> b


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def keep_going(name: str = "side"):
    provision(name=name)
    flaky(n=3)


if __name__ == "__main__":
    for wf, kwargs in [(inner, {"name": "dev"}), (outer, {}), (keep_going, {})]:
        try:
            wf(**kwargs)
            print("ok")
        except Exception:
            print("failed")
