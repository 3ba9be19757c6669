"""`rfactory rl-data`: verified runs, problem files and Hub datasets → an RL problem set."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from ..progress import Progress, print_summary
from .options import JSON, QUIET, interruptible, output_mode


@interruptible
def rl_data(
    sources: list[str] = typer.Argument(..., help="Run folders, problem files (.jsonl/.json/.parquet/.csv) or hf:ORG/NAME."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the problem set (data/train-*.parquet, README.md, rl-data.json)."),
    keep_pass_rate: Optional[str] = typer.Option(None, "--keep-pass-rate", metavar="LO:HI", help="Keep problems whose pass rate in a verified run lies in LO..HI (both kept), or a preset: prime [0.2, 0.8], open-r1 (0.1, 0.6)."),
    decontaminate: Optional[str] = typer.Option(None, "--decontaminate", help="Leave out problems that repeat these benchmarks, comma-separated (aime2024,math500, a file or a Hub dataset)."),
    system: Optional[str] = typer.Option(None, "--system", help="System prompt of every row (@FILE reads a file; '' for none). Default: a run's dataset system prompt, a verl set's own, else rfactory's reasoning prompt."),
    problem_column: str = typer.Option("problem", help="Problem text column (files and Hub datasets)."),
    answer_column: str = typer.Option("answer", help="Reference column: the answer (math) or the tests (code)."),
    id_column: Optional[str] = typer.Option(None, help="Stable id column (default: a hash of the problem text)."),
    domain: str = typer.Option("math", help="math or code, for files and Hub datasets that do not say."),
    split: str = typer.Option("train", help="Split of a Hub dataset."),
    near_duplicates: bool = typer.Option(True, "--near-duplicates/--exact-duplicates-only", help="Also leave out near repeats (MinHash) of an earlier problem."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Make prompts + references for RL: `prompt` messages with `solution` (math) or `tests` (code),
    with pass rates where a run measured them, filtered by band, decontaminated and deduplicated.

    Examples:

      rfactory rl-data runs/m1 --keep-pass-rate 0.2:0.8 --out rl/m1

      rfactory rl-data hf:PRIME-RL/Eurus-2-RL-Data --decontaminate aime2024,math500 --out rl/eurus

      rfactory push rl/m1 --repo my-org/m1-rl
    """
    from ..benchmarks import load_benchmark
    from ..curate.band import parse_band
    from ..curate.contamination import BenchmarkIndex
    from ..recipe import Columns
    from ..rl.data import from_problems, from_run, select
    from ..rl.export import write

    mode = output_mode(quiet, as_json)
    if domain not in ("math", "code"):
        raise UserError(f"--domain {domain}: expected math or code")
    if system is not None and system.startswith("@"):
        path = Path(system[1:])
        if not path.is_file():
            raise UserError(f"--system {system}: file not found")
        system = path.read_text(encoding="utf-8").rstrip("\n")
    band = parse_band(keep_pass_rate) if keep_pass_rate else None
    names = [b.strip() for b in (decontaminate or "").split(",") if b.strip()]
    index = BenchmarkIndex((spec.name, texts) for spec, texts in map(load_benchmark, names)) if names else None
    columns = Columns(id=id_column, problem=problem_column, answer=answer_column)

    def rows_of(source: str):  # noqa: ANN202
        if (Path(source) / "run.json").is_file():
            return from_run(Path(source), system)
        return from_problems(source, split, columns, domain, system)  # type: ignore[arg-type]

    dropped: Counter[str] = Counter()
    settings = {"sources": sources, "band": band.describe() if band else None, "decontaminated_against": names,
                "near_duplicates": near_duplicates}
    progress = Progress(mode, "rl-data", None, "kept")
    try:
        summary = write(select((rows_of(s) for s in sources), band, index, near_duplicates, dropped), out, settings,
                        dropped, progress)
    finally:
        progress.close()
    print_summary(mode, "rl-data", summary)
