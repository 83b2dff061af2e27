from airfoil.compat.flytekit import LaunchPlan, task, workflow


@task
def power(base: int, exp: int) -> int:
    return base**exp


@workflow
def pow_wf(base: int, exp: int = 2) -> int:
    return power(base=base, exp=exp)


cubes = LaunchPlan.get_or_create(pow_wf, name="cubes", fixed_inputs={"exp": 3})
tens = LaunchPlan.create("tens", pow_wf, default_inputs={"base": 10})
default_lp = LaunchPlan.get_default_launch_plan(None, pow_wf)

if __name__ == "__main__":
    print(cubes(base=2))
    print(tens())
    print(tens(exp=3))
    print(default_lp(base=7))
