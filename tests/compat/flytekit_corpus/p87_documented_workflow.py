"""Documentation on tasks and workflows: docstrings in three styles, docs=Documentation with a
long description and a source link, list defaults."""

from typing import List, Tuple

from airfoil.compat.flytekit import Description, Documentation, SourceCode, task, workflow


@task(
    docs=Documentation(
        short_description="slope of a least squares line",
        long_description=Description(value="Ordinary least squares on paired values."),
        source_code=SourceCode(link="https://example.com/stats"),
    )
)
def slope(x: List[int], y: List[int]) -> float:
    """Slope of the regression line.

    :param x: the x values
    :param y: the y values
    :return: the slope
    """
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    num = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    den = sum((a - mx) ** 2 for a in x)
    return num / den


@task
def intercept(x: List[int], y: List[int], slope: float) -> float:
    """Intercept of the regression line.

    Args:
        x: the x values
        y: the y values
        slope: the slope found before

    Returns:
        the intercept
    """
    return sum(y) / len(y) - slope * sum(x) / len(x)


@workflow
def line_wf(x: List[int] = [-3, 0, 3], y: List[int] = [7, 4, -2]) -> Tuple[float, float]:  # noqa: B006
    """
    Slope and intercept of a regression line.

    Parameters
    ----------
    x : list[int]
        x values
    y : list[int]
        y values
    """
    s = slope(x=x, y=y)
    return s, intercept(x=x, y=y, slope=s)


if __name__ == "__main__":
    s, i = line_wf()
    print(round(s, 4), round(i, 4))
    print(line_wf(x=[1, 2, 3], y=[2, 4, 6]))
    print(str(Documentation(short_description="short")) != "")
