"""What an eval says, for people: a table on the terminal and `report.md` beside `results.json`.

A score is never shown without its n and its interval, and the problem set's hash goes with it,
so a number can be traced to the exact data and settings behind it.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .results import BenchmarkResult, Comparison, EvalResults


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _ks(r: BenchmarkResult) -> list[int]:
    """The k worth showing: 1, powers of two, and n."""
    n = r.samples
    return sorted({k for k in (1, 2, 4, 8, 16, 32, 64, n) if k <= n})


def table(res: EvalResults) -> Table:
    t = Table(title=f"{res.model.spec}  ({res.model.engine})")
    for column in ("benchmark", "n", "avg@n (95% CI)", "pass@k", "maj@n", "wrong / no answer / unparsed / timeout / crashed",
                   "truncated", "set"):
        t.add_column(column)
    for r in res.benchmarks:
        s = r.scores
        ci = f"{_pct(s.avg_at_n.mean)} ({_pct(s.avg_at_n.low)}–{_pct(s.avg_at_n.high)})"
        passes = " ".join(f"@{k} {_pct(s.pass_at[k])}" for k in _ks(r) if k > 1) or "-"
        o = r.outcomes
        t.add_row(f"{r.benchmark} ({r.problems})", str(r.samples), ci, passes, _pct(s.maj_at[r.samples]) if s.maj_at else "-",
                  f"{o.wrong_answer} / {o.no_answer} / {o.unparsed} / {o.timeout} / {o.crashed}", str(o.truncated), r.content_hash)
    return t


_LABELS = {"majority": "majority vote", "verifier": "oracle (any right)", "tests": "chosen by public tests",
           "distinguish": "public tests, ties judged on generated inputs (S*)"}


def _label(strategy: str) -> str:
    if strategy in _LABELS:
        return _LABELS[strategy]
    how, _, path = strategy.partition(":")
    return f"PRM {path} ({'product' if how == 'prm-prod' else 'minimum'} of step scores)"


def selection_table(res: EvalResults) -> Table | None:
    rows = [(r, name, curve) for r in res.benchmarks for name, curve in r.selection.items()]
    if not rows:
        return None
    ks = sorted({k for r, _, _ in rows for k in _ks(r)})
    t = Table(title="best of n: accuracy with the first n samples")
    for column in ("benchmark", "strategy", *(f"n={k}" for k in ks)):
        t.add_column(column)
    for r, name, curve in rows:
        t.add_row(r.benchmark, _label(name), *(_pct(curve[k]) if k in curve else "" for k in ks))
    return t


def scaling_plots(res: EvalResults) -> dict[str, bytes]:
    """file name → PNG of accuracy against n, for each benchmark scored with `--select`."""
    if not any(r.selection for r in res.benchmarks):
        return {}  # and matplotlib is never imported
    from ..plots import scaling_curves

    return {f"scaling-{r.benchmark}.png": scaling_curves({_label(k): v for k, v in r.selection.items()},
                                                         f"{r.benchmark}: best of n ({res.model.spec})")
            for r in res.benchmarks if r.selection}


def print_report(res: EvalResults) -> None:
    console = Console()
    console.print(table(res))
    if (best := selection_table(res)) is not None:
        console.print(best)
    for r in res.benchmarks:
        for w in r.warnings:
            console.print(f"[yellow]warning[/yellow] {r.benchmark}: {w}")


def markdown(res: EvalResults, plots: list[str] = (), depth: int = 1, images: str = "") -> str:
    """`report.md`: what a model card can carry; `plots`: the scaling plots, found under `images`;
    `depth`: the level of the top heading (2 inside a model card)."""
    h = "#" * depth
    out = [f"{h} Evaluation of `{res.model.spec}`", "",
           f"Engine: {res.model.engine}. rfactory {res.rfactory_version}, {res.created_at:%Y-%m-%d}.", "",
           "| benchmark | problems | n | avg@n | 95% interval | pass@n | maj@n | temperature | max tokens | problem set |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res.benchmarks:
        s = r.scores
        out.append(f"| {r.benchmark} | {r.problems} | {r.samples} | {_pct(s.avg_at_n.mean)} | {_pct(s.avg_at_n.low)}–"
                   f"{_pct(s.avg_at_n.high)} | {_pct(s.pass_at[r.samples])} | "
                   f"{_pct(s.maj_at[r.samples]) if s.maj_at else '-'} | {r.temperature:g} | {r.max_tokens} | "
                   f"`{r.repo}`{f'@{r.revision[:8]}' if r.revision else ''} `{r.content_hash}` |")
    out += ["", "avg@n is the mean share of right samples per problem (what model cards call pass@1), with a "
            "95% interval across problems; pass@k is the unbiased estimator of Chen et al. (2021); maj@n is the "
            "share of problems whose most common answer (grouped by the verifier's equivalence) is right.", ""]
    for r in res.benchmarks:
        o = r.outcomes
        out += [f"{h}# {r.benchmark}", "",
                f"{o.right} right, {o.wrong_answer} wrong answers, {o.no_answer} without an answer, {o.unparsed} "
                f"unparsed, {o.timeout} timeouts, {o.crashed} programs that crashed; {o.truncated} stopped at the "
                f"token limit. Seed noise ±{_pct(r.seed_noise)} points.", ""]
        out += [f"- warning: {w}" for w in r.warnings] + ([""] if r.warnings else [])
        if r.selection:
            ks = _ks(r)
            out += ["Best of n, with the first n samples of each problem: a majority vote picks the answer most "
                    "samples share; the oracle is right when any sample is (no selector does better); chosen by "
                    "public tests submits the candidate passing most of the tests the problem shows, scored on all "
                    "of its tests (S* breaks their ties on inputs the model writes, the model judging the outputs); "
                    "a PRM submits the sample whose weakest step (or product of steps) it scores highest.", "",
                    "| strategy | " + " | ".join(f"n={k}" for k in ks) + " |",
                    "|---|" + "---|" * len(ks)]
            out += [f"| {_label(name)} | " + " | ".join(_pct(curve[k]) for k in ks) + " |"
                    for name, curve in r.selection.items()]
            out.append("")
        if (plot := f"scaling-{r.benchmark}.png") in plots:
            out += [f"![{r.benchmark}: accuracy against n]({images}{plot})", ""]
    return "\n".join(out)


def comparison_table(rows: list[Comparison], a: str, b: str) -> Table:
    t = Table(title=f"{a}  minus  {b}")
    for column in ("benchmark", "A", "B", "A − B (95% CI)", "significant", "problems"):
        t.add_column(column)
    for c in rows:
        d = c.difference
        t.add_row(c.benchmark, _pct(c.a), _pct(c.b), f"{_pct(d.mean)} ({_pct(d.low)} to {_pct(d.high)})",
                  "yes" if d.significant else "no", f"{d.problems}" + ("" if c.same_problems else " (sets differ)"))
    return t
