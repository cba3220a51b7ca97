"""GraphQL types of signals: predictions, model cards and backtests."""

from datetime import date, datetime
from statistics import fmean
from typing import Annotated

import strawberry

from domain import prediction_service
from domain.predictions import Prediction as DomainPrediction
from domain.signals import backtest as domain_backtest
from domain.signals import evaluation as domain_evaluation
from domain.signals import metrics as domain_metrics
from domain.signals import walk_forward as domain_walk_forward
from domain.signals.model_info import BASELINE_BUY_AND_HOLD, BASELINE_MAJORITY, BASELINE_RULES
from domain.signals.model_info import ModelInfo as DomainModelInfo
from domain.signals.recommendations import PredictionMethod, Recommendation
from graphql_schema.types.errors import (
    InsufficientDataError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)

strawberry.enum(Recommendation, name="Recommendation")
strawberry.enum(PredictionMethod, name="PredictionMethod")


@strawberry.type
class ProbabilityDistribution:
    buy: float
    hold: float
    sell: float


@strawberry.type(
    description="Why a recommendation was made, e.g. code RSI_OVERSOLD, description "
    "'RSI(14) = 27.4 < 30'."
)
class Reason:
    code: str
    description: str


@strawberry.type
class IndicatorSnapshot:
    sma50: float | None
    sma200: float | None
    ema12: float | None
    ema26: float | None
    rsi14: float | None
    macd: float | None
    macd_signal: float | None
    macd_histogram: float | None


@strawberry.type
class Prediction:
    id: strawberry.ID
    symbol: str
    recommendation: Recommendation
    confidence: float = strawberry.field(
        description="Probability of the chosen recommendation, 0..1."
    )
    probabilities: ProbabilityDistribution
    method: PredictionMethod
    model_version: str | None = strawberry.field(
        description="Version of the trained model; null for RULES."
    )
    horizon_days: int
    price: float = strawberry.field(
        description="Last price in the data the prediction was made from."
    )
    as_of: datetime = strawberry.field(description="Timestamp of the last data point used.")
    reasons: list[Reason]
    indicators: IndicatorSnapshot
    created_at: datetime

    @classmethod
    def from_domain(cls, prediction: DomainPrediction) -> "Prediction":
        signal = prediction.signal
        p = signal.probabilities
        i = signal.indicators
        return cls(
            id=strawberry.ID(prediction.id),
            symbol=prediction.symbol,
            recommendation=signal.recommendation,
            confidence=signal.confidence,
            probabilities=ProbabilityDistribution(buy=p.buy, hold=p.hold, sell=p.sell),
            method=signal.method,
            model_version=signal.model_version,
            horizon_days=signal.horizon_days,
            price=signal.price,
            as_of=signal.as_of,
            reasons=[Reason(code=r.code, description=r.description) for r in signal.reasons],
            indicators=IndicatorSnapshot(
                sma50=i.sma50,
                sma200=i.sma200,
                ema12=i.ema12,
                ema26=i.ema26,
                rsi14=i.rsi14,
                macd=i.macd,
                macd_signal=i.macd_signal,
                macd_histogram=i.macd_histogram,
            ),
            created_at=prediction.created_at,
        )


@strawberry.type
class ClassificationMetrics:
    samples: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float

    @classmethod
    def from_domain(cls, metrics: domain_metrics.ClassificationMetrics) -> "ClassificationMetrics":
        return cls(
            samples=metrics.samples,
            accuracy=metrics.accuracy,
            balanced_accuracy=metrics.balanced_accuracy,
            macro_f1=metrics.macro_f1,
        )


@strawberry.type(
    description="Returns and drawdowns are fractions (0.25 = 25%); Sharpe is annualised from "
    "daily returns."
)
class StrategyMetrics:
    total_return: float = strawberry.field(
        description="Total return of acting on the signals (long on BUY, flat on SELL, keep "
        "position on HOLD)."
    )
    buy_and_hold_return: float
    sharpe: float
    max_drawdown: float
    trades: int

    @classmethod
    def of(
        cls, strategy: domain_backtest.StrategyMetrics, buy_and_hold_return: float
    ) -> "StrategyMetrics":
        return cls(
            total_return=strategy.total_return,
            buy_and_hold_return=buy_and_hold_return,
            sharpe=strategy.sharpe,
            max_drawdown=strategy.max_drawdown,
            trades=strategy.trades,
        )

    @classmethod
    def averaged(
        cls,
        per_symbol: dict[str, domain_backtest.StrategyMetrics],
        buy_and_hold: dict[str, domain_backtest.StrategyMetrics],
    ) -> "StrategyMetrics":
        """Equal-weight mean over symbols (trades summed)."""
        runs = list(per_symbol.values())
        return cls(
            total_return=fmean(m.total_return for m in runs),
            buy_and_hold_return=fmean(m.total_return for m in buy_and_hold.values()),
            sharpe=fmean(m.sharpe for m in runs),
            max_drawdown=fmean(m.max_drawdown for m in runs),
            trades=sum(m.trades for m in runs),
        )


@strawberry.type
class FeatureImportance:
    feature: str
    importance: float


@strawberry.type(
    description="One long/flat strategy (or buy-and-hold) over a symbol's test days; "
    "returns and drawdowns are fractions (0.25 = 25%), Sharpe annualised from daily returns."
)
class StrategyRun:
    total_return: float
    sharpe: float
    max_drawdown: float
    trades: int
    exposure: float = strawberry.field(description="Fraction of the days held long.")
    days: int

    @classmethod
    def from_domain(cls, metrics: domain_backtest.StrategyMetrics) -> "StrategyRun":
        return cls(
            total_return=metrics.total_return,
            sharpe=metrics.sharpe,
            max_drawdown=metrics.max_drawdown,
            trades=metrics.trades,
            exposure=metrics.exposure,
            days=metrics.days,
        )


@strawberry.type(
    description="A symbol's out-of-sample rows: the model, RULES and the majority class "
    "scored on exactly them, and the long/flat strategies next to buy-and-hold."
)
class SymbolEvaluation:
    symbol: str
    test_rows: int
    test_start: datetime
    test_end: datetime
    model: ClassificationMetrics
    rules: ClassificationMetrics
    majority: ClassificationMetrics
    model_strategy: StrategyRun
    rules_strategy: StrategyRun
    buy_and_hold: StrategyRun

    @classmethod
    def from_domain(cls, evaluation: domain_evaluation.SymbolEvaluation) -> "SymbolEvaluation":
        return cls(
            symbol=evaluation.symbol,
            test_rows=evaluation.test_rows,
            test_start=evaluation.test_start,
            test_end=evaluation.test_end,
            model=ClassificationMetrics.from_domain(evaluation.model),
            rules=ClassificationMetrics.from_domain(evaluation.rules),
            majority=ClassificationMetrics.from_domain(evaluation.majority),
            model_strategy=StrategyRun.from_domain(evaluation.model_strategy),
            rules_strategy=StrategyRun.from_domain(evaluation.rules_strategy),
            buy_and_hold=StrategyRun.from_domain(evaluation.buy_and_hold),
        )


@strawberry.type(
    description="One walk-forward test period: the model refitted on the rows whose labels "
    "end before it, scored on it with RULES and the majority class."
)
class RefitEvaluation:
    test_start: datetime
    test_end: datetime
    train_rows: int
    test_rows: int
    model: ClassificationMetrics
    rules: ClassificationMetrics
    majority: ClassificationMetrics

    @classmethod
    def from_domain(cls, score: domain_walk_forward.SplitScore) -> "RefitEvaluation":
        return cls(
            test_start=score.test_start,
            test_end=score.test_end,
            train_rows=score.train_rows,
            test_rows=score.test_rows,
            model=ClassificationMetrics.from_domain(score.model),
            rules=ClassificationMetrics.from_domain(score.rules),
            majority=ClassificationMetrics.from_domain(score.majority),
        )


@strawberry.type(description="How many training rows carry a label, and their share (0..1).")
class LabelCount:
    label: Recommendation
    count: int
    share: float


@strawberry.type(
    description="Out-of-sample (walk-forward) evaluation of a trained model next to the RULES "
    "baseline on the same periods. With several symbols the model is pooled over them and "
    "the strategy figures are equal-weight means over the symbols."
)
class ModelInfo:
    version: str
    trained_at: datetime
    algorithm: str
    horizon_days: int
    symbols: list[str]
    features: list[str]
    feature_importances: list[FeatureImportance]
    metrics: ClassificationMetrics
    baseline_metrics: ClassificationMetrics
    strategy: StrategyMetrics
    baseline_strategy: StrategyMetrics
    pooled: bool
    majority_metrics: ClassificationMetrics = strawberry.field(
        description="Always the most common label of each training window, on the same rows."
    )
    symbol_evaluations: list[SymbolEvaluation] = strawberry.field(
        description="Per symbol, in training order; empty for a model stored before they were kept."
    )
    refits: list[RefitEvaluation]
    label_distribution: list[LabelCount]
    position_threshold: float | None = strawberry.field(
        description="The model's long/flat strategy is long while p(BUY)/prior(BUY) - "
        "p(SELL)/prior(SELL) is above this (chosen on the training rows' out-of-fold "
        "probabilities), flat below; null when it follows the recommendations (HOLD keeps)."
    )

    @classmethod
    def from_domain(cls, info: DomainModelInfo) -> "ModelInfo":
        buy_and_hold = info.baseline_strategy_metrics[BASELINE_BUY_AND_HOLD]
        rules = info.baseline_strategy_metrics[BASELINE_RULES]
        importances = sorted(info.feature_importances.items(), key=lambda item: -item[1])
        total = max(1, sum(info.label_counts.values()))
        return cls(
            version=info.version,
            trained_at=info.trained_at,
            algorithm=info.algorithm,
            horizon_days=info.horizon_days,
            symbols=list(info.symbols),
            features=list(info.feature_names),
            feature_importances=[
                FeatureImportance(feature=name, importance=value) for name, value in importances
            ],
            metrics=ClassificationMetrics.from_domain(info.metrics),
            baseline_metrics=ClassificationMetrics.from_domain(
                info.baseline_metrics[BASELINE_RULES]
            ),
            strategy=StrategyMetrics.averaged(info.strategy_metrics, buy_and_hold),
            baseline_strategy=StrategyMetrics.averaged(rules, buy_and_hold),
            pooled=info.pooled,
            majority_metrics=ClassificationMetrics.from_domain(
                info.baseline_metrics[BASELINE_MAJORITY]
            ),
            symbol_evaluations=[SymbolEvaluation.from_domain(e) for e in info.symbol_evaluations],
            refits=[RefitEvaluation.from_domain(refit) for refit in info.refits],
            label_distribution=[
                LabelCount(label=Recommendation(name), count=count, share=count / total)
                for name, count in info.label_counts.items()
            ],
            position_threshold=info.position_threshold,
        )


@strawberry.type
class EquityPoint:
    timestamp: datetime
    equity: float
    position: float


@strawberry.type
class BacktestReport:
    symbol: str
    method: PredictionMethod
    start: date
    end: date
    metrics: ClassificationMetrics
    strategy: StrategyMetrics
    equity: list[EquityPoint]

    @classmethod
    def from_domain(cls, report: prediction_service.BacktestReport) -> "BacktestReport":
        return cls(
            symbol=report.symbol,
            method=report.method,
            start=report.start,
            end=report.end,
            metrics=ClassificationMetrics.from_domain(report.metrics),
            strategy=StrategyMetrics.of(report.strategy, report.buy_and_hold_return),
            equity=[
                EquityPoint(timestamp=p.timestamp, equity=p.equity, position=float(p.position))
                for p in report.run.curve
            ],
        )


@strawberry.input
class PricePointInput:
    date: date
    price: float


@strawberry.input(
    description="Without data, the stored daily history of the symbol is used. With data, "
    "the points replace the stored closes of their dates and extend the stored history (a "
    "reason says how); a symbol with no stored history is predicted from the points alone."
)
class PredictInput:
    symbol: str
    data: list[PricePointInput] | None = None
    horizon_days: int | None = None


PredictResult = Annotated[
    Prediction | ValidationError | InsufficientDataError | NotFoundError | RateLimitedError,
    strawberry.union("PredictResult"),
]
