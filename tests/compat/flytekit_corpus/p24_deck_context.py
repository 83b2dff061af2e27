from airfoil.compat.flytekit import Deck, current_context, task, workflow


@task(enable_deck=True)
def report(n: int) -> int:
    ctx = current_context()
    Deck("summary", f"<h1>{n} rows</h1>")
    names = [d.name for d in ctx.decks]
    assert "summary" in names, names
    assert ctx.execution_id.name
    return len(ctx.working_directory) > 0 and n * 2


@workflow
def wf(n: int) -> int:
    return report(n=n)


if __name__ == "__main__":
    print(wf(n=21))
