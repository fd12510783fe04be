"""The table printed at the end of a run (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bench.harness import Report


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _met(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]NO[/]", None: ""}[value]


def print_table(report: Report, quick: bool) -> None:
    title = "digest benchmarks" + (" (--quick: small sizes, figures not meaningful)" if quick else "")
    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("section", "left"),
        ("measure", "left"),
        ("ours", "right"),
        ("unit", "left"),
        ("reference", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("met", "center"),
        ("note", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for row in report.rows:
        table.add_row(
            row.section,
            row.measure,
            _number(row.ours),
            row.unit,
            _number(row.reference),
            _number(row.ratio),
            row.target,
            _met(row.met),
            row.note,
        )
    Console(width=200).print(table)
