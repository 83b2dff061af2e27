import pandas as pd
from typing_extensions import Annotated

import airfoil.compat.flytekit as flytekit
from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.deck import MarkdownRenderer, TopFrameRenderer


@task(enable_deck=True)
def summarize(n: int) -> Annotated[pd.DataFrame, TopFrameRenderer(2)]:
    df = pd.DataFrame({"i": list(range(n)), "sq": [i * i for i in range(n)]})
    deck = flytekit.Deck("summary", MarkdownRenderer().to_html(f"# {n} rows"))
    deck.append(TopFrameRenderer(3).to_html(df))
    flytekit.current_context().default_deck.append("<p>done</p>")
    return df


@task(disable_deck=False)
def total(df: pd.DataFrame) -> int:
    return int(df["sq"].sum())


@workflow
def wf(n: int) -> int:
    return total(df=summarize(n=n))


if __name__ == "__main__":
    print(wf(n=4))
