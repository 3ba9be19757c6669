"""Problem files in and out of curation: rows with their text, and kept/dropped written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from ..errors import UserError


def rows_with_text(source: str, column: str) -> Iterator[tuple[dict[str, Any], str]]:
    """(whole row, its problem text) for each row of a problem file or hf:org/name."""
    from ..problems import raw_rows
    from ..recipe import ProblemsConfig

    rows, where, _ = raw_rows(ProblemsConfig(source=source), whole=True)
    for n, row in enumerate(rows):
        text = row.get(column)
        if not isinstance(text, str):
            raise UserError(f"{where}: row {n}: field {column!r}: missing or not text")
        yield row, text


def json_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str) + "\n"


@contextmanager
def kept_and_dropped(out: Path, report: Path) -> Iterator[tuple[TextIO, TextIO]]:
    """Files for the kept rows and for the report on dropped ones; both appear only if all went well."""
    tmp_out, tmp_report = out.with_name(f".{out.name}.tmp"), report.with_name(f".{report.name}.tmp")
    try:
        with tmp_out.open("w", encoding="utf-8") as fo, tmp_report.open("w", encoding="utf-8") as fr:
            yield fo, fr
        os.replace(tmp_out, out)
        os.replace(tmp_report, report)
    finally:
        tmp_out.unlink(missing_ok=True)
        tmp_report.unlink(missing_ok=True)
