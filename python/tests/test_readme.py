"""The example in the repository README's "Use from Python" section runs as written."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re


def test_readme_example_runs() -> None:
    text = (pathlib.Path(__file__).parent.parent.parent / "README.md").read_text()
    section = text.split("## Use from Python", 1)[-1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "README has no python example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {})
    assert "applied 2 b'hello'" in out.getvalue()
    assert "State:StateLeader" in out.getvalue()


def test_readme_host_example_runs() -> None:
    """The host example at the top of the README runs as written."""
    text = (pathlib.Path(__file__).parent.parent.parent / "README.md").read_text()
    section = text.split("## A replicated state machine in Python", 1)[-1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "README has no host example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {})
    assert "added: b'5'" in out.getvalue()
    assert "read: b'5'" in out.getvalue()
