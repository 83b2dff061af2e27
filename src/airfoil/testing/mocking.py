"""Mocking tasks in tests: run a workflow with some of its tasks replaced.

Example::

    from airfoil.testing.mocking import patch, task_mock

    def test_pipeline() -> None:
        with task_mock(fetch_rows) as fetch:
            fetch.return_value = [1, 2, 3]
            assert pipeline(n=3) == 6
        fetch.assert_called_once_with(n=3)

    @patch(fetch_rows)
    def test_pipeline_again(fetch) -> None:
        fetch.return_value = []
        assert pipeline(n=0) == 0

See :mod:`airfoil.sdk._mocking` for what a mock reaches (tasks run in this process) and how it
keeps the cache clean.
"""

from airfoil.sdk._mocking import patch, replaced_task, task_mock

__all__ = ["patch", "replaced_task", "task_mock"]
