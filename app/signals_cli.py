"""`stockql train` and `stockql backtest`: the signal model from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.settings import Settings
from domain.signals._sklearn import ALGORITHMS, KNOWN_ALGORITHMS
from domain.signals.backtest import EquityPoint
from domain.signals.labels import LabelRule
from domain.signals.model_info import BASELINE_RULES
from domain.signals.recommendations import PredictionMethod
from domain.signals.training import TrainingConfig

if TYPE_CHECKING:
    from app.runtime import Runtime
    from domain.signals.prices import PriceSeries

console = Console()

# Options `train` and `evaluate` share.
HORIZON = typer.Option(5, min=1, max=60, help="Forward horizon in trading days.")
THRESHOLD = typer.Option(0.01, min=0.0, help="BUY above +x, SELL below -x (0.01 = 1%).")
START = typer.Option(None, help="First date used (YYYY-MM-DD).")
END = typer.Option(None, help="Last date used (YYYY-MM-DD).")
ALGORITHMS_OPTION = typer.Option(
    ",".join(ALGORITHMS),
    help=f"Candidates to compare (comma-separated; {', '.join(KNOWN_ALGORITHMS)}).",
)
REFIT_EVERY = typer.Option(250, min=20, help="Trading days between walk-forward refits.")


def train(
    symbols: str = typer.Option(
        "", help="Comma-separated tickers; default: the tracked symbols (STOCKQL_SYMBOLS)."
    ),
    horizon: int = HORIZON,
    threshold: float = THRESHOLD,
    start: str | None = START,
    end: str | None = END,
    activate: bool = typer.Option(True, help="Make the new model the active one."),
    algorithms: str = ALGORITHMS_OPTION,
    refit_every: int = REFIT_EVERY,
) -> None:
    """Train the signal model walk-forward on stored daily history, keep the better of the
    candidates, store it (and activate it)."""
    from app.runtime import open_runtime
    from app.training import train_and_store

    settings = Settings()
    tickers = tuple(s.strip().upper() for s in symbols.split(",") if s.strip()) or settings.symbols
    first, last = _day(start, "start"), _day(end, "end")
    config = TrainingConfig(
        label_rule=LabelRule(horizon=horizon, threshold=threshold),
        algorithms=_candidates(algorithms),
        refit_every_days=refit_every,
    )

    async def run() -> None:
        async with open_runtime(settings) as runtime:
            histories = await _histories_told(runtime, tickers, first, last)
            with _progress_bars() as progress:
                model = await train_and_store(
                    runtime, histories, config, activate=activate, progress=progress
                )
            info = model.info
            console.print(
                f"model {info.version} ({info.algorithm}): walk-forward balanced accuracy "
                f"{info.metrics.balanced_accuracy:.3f} vs rules "
                f"{info.baseline_metrics[BASELINE_RULES].balanced_accuracy:.3f}; "
                f"{'active' if activate else 'stored'}"
            )

    _run_reporting_errors(run)


def evaluate(
    symbols: str = typer.Option(..., help="Comma-separated tickers with stored daily history."),
    horizon: int = HORIZON,
    threshold: float = THRESHOLD,
    start: str | None = START,
    end: str | None = END,
    algorithms: str = ALGORITHMS_OPTION,
    refit_every: int = REFIT_EVERY,
    min_train: int = typer.Option(500, min=20, help="Trading days before the first test period."),
    output: Path = typer.Option(
        Path("evaluation"), help="Directory for evaluation.json and evaluation.png."
    ),
) -> None:
    """Run the walk-forward on stored symbols and report it (table, PNG, JSON), per symbol
    and per refit; nothing is stored or activated."""
    from app.daemon_threads import in_daemon_thread
    from app.evaluation_report import print_report, write_report
    from app.runtime import open_runtime
    from domain.signals.training import evaluate_candidates

    settings = Settings()
    tickers = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if not tickers:
        raise typer.BadParameter("give at least one symbol")
    first, last = _day(start, "start"), _day(end, "end")
    config = TrainingConfig(
        label_rule=LabelRule(horizon=horizon, threshold=threshold),
        algorithms=_candidates(algorithms),
        min_train_days=min_train,
        refit_every_days=refit_every,
    )

    async def run() -> None:
        async with open_runtime(settings) as runtime:
            histories = await _histories_told(runtime, tickers, first, last)
        with _progress_bars() as progress:
            evaluation = await in_daemon_thread(
                lambda: evaluate_candidates(histories, config, progress=progress),
                name="stockql-evaluation",
            )
        print_report(evaluation, console)
        for path in write_report(evaluation, config, output):
            console.print(f"written {path}", markup=False, highlight=False)

    _run_reporting_errors(run)


def backtest(
    symbol: str = typer.Argument(..., help="Ticker to backtest."),
    start: str | None = typer.Option(None, help="First date (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, help="Last date (YYYY-MM-DD)."),
    method: PredictionMethod = typer.Option(PredictionMethod.RULES, case_sensitive=False),
    output: Path = typer.Option(Path("equity.png"), help="Where to write the equity curve."),
) -> None:
    """Act on the signals over stored history: print the metrics and plot the equity curve."""
    from app.runtime import open_runtime
    from app.training import load_training_histories

    settings = Settings()
    first, last = _day(start, "start"), _day(end, "end")

    async def run() -> None:
        async with open_runtime(settings) as runtime:
            loaded = await load_training_histories(runtime, [symbol], first=first, last=last)
            for ticker, history in loaded.items():
                console.print(history.describe(ticker), markup=False, highlight=False)
            report = await runtime.services.predictions.backtest(
                symbol, start=first, end=last, method=method
            )
        table = Table(title=f"{report.symbol} {report.method.value} {report.start} .. {report.end}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        m, s = report.metrics, report.strategy
        for name, value in (
            ("samples", f"{m.samples}"),
            ("accuracy", f"{m.accuracy:.3f}"),
            ("balanced accuracy", f"{m.balanced_accuracy:.3f}"),
            ("macro F1", f"{m.macro_f1:.3f}"),
            ("strategy return", f"{s.total_return:+.1%}"),
            ("buy-and-hold return", f"{report.buy_and_hold_return:+.1%}"),
            ("Sharpe", f"{s.sharpe:.2f}"),
            ("max drawdown", f"{s.max_drawdown:.1%}"),
            ("trades", f"{s.trades}"),
        ):
            table.add_row(name, value)
        console.print(table)
        _plot(report.run.curve, report.symbol, output)
        console.print(f"equity curve written to {output}")

    _run_reporting_errors(run)


async def _histories_told(
    runtime: Runtime, tickers: tuple[str, ...], first: date | None, last: date | None
) -> dict[str, PriceSeries]:
    """The stored daily closes of `tickers`, printing what each one is made of."""
    from app.training import load_training_histories

    loaded = await load_training_histories(runtime, tickers, first=first, last=last)
    for symbol, history in loaded.items():
        console.print(history.describe(symbol), markup=False, highlight=False)
    return {symbol: history.series for symbol, history in loaded.items()}


def _candidates(algorithms: str) -> tuple[str, ...]:
    candidates = tuple(a.strip() for a in algorithms.split(",") if a.strip())
    unknown = set(candidates) - set(KNOWN_ALGORITHMS)
    if unknown or not candidates:
        raise typer.BadParameter(f"algorithms are {', '.join(KNOWN_ALGORITHMS)}")
    return candidates


@contextmanager
def _progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar per stage (each candidate's walk-forward, the final fit)."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def _run_reporting_errors(run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the command; an expected failure (unknown symbol, too little data, a bad
    argument) is one line on stderr and exit status 1, not a traceback."""
    from domain.errors import StockQLError

    try:
        asyncio.run(run())
    except StockQLError as error:
        Console(stderr=True).print(f"error: {error.message}", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _plot(curve: tuple[EquityPoint, ...], symbol: str, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 4))
    # matplotlib plots datetimes through its date converter; its stubs only know numbers.
    days = [p.timestamp for p in curve]
    axis.plot(days, [p.equity for p in curve])  # type: ignore[arg-type]
    axis.set_title(f"{symbol}: long/flat equity (1.0 = start)")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(output)
    plt.close(figure)


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD") from None
