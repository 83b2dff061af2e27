from airfoil.compat.flytekit import task, workflow


@task
def t0() -> None:
    return None


@task
def t1() -> None:
    return None


@task
def t2() -> None:
    return None


@workflow
def chain_tasks_wf():
    t2_promise = t2()
    t1_promise = t1()
    t0_promise = t0()
    t0_promise >> t1_promise
    t1_promise >> t2_promise


@workflow
def sub_workflow_1():
    t0()


@workflow
def sub_workflow_0():
    t1()


@workflow
def chain_workflows_wf():
    sub_wf1 = sub_workflow_1()
    sub_wf0 = sub_workflow_0()
    sub_wf1 >> sub_wf0


if __name__ == "__main__":
    print(chain_tasks_wf())
    print(chain_workflows_wf())
