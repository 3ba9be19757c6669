"""The program in a solution: the last fenced Python block of its solution section."""

from __future__ import annotations

import re

from ..math.extract import solution_section

# ```python, ```py, ```Python3 or a bare ``` fence; the block ends at the next fence on its own line
_FENCE = re.compile(r"^[ \t]*```[ \t]*(?P<lang>[A-Za-z0-9_+-]*)[ \t]*\n(?P<code>.*?)^[ \t]*```[ \t]*$", re.S | re.M)
_PYTHON = {"", "python", "python3", "py", "py3"}


def extract_code(solution: str) -> str | None:
    """The last Python block of the solution section; None when there is none (`no_code`).

    A block whose fence never closes (a truncated answer) is not a program.
    """
    blocks = [m for m in _FENCE.finditer(solution_section(solution)) if m.group("lang").lower() in _PYTHON]
    if not blocks:
        return None
    code = blocks[-1].group("code")
    return code if code.strip() else None
