"""Signal operations: predict, stored predictions, the model card, backtests."""

from datetime import date

import strawberry

from domain.signals.recommendations import PredictionMethod
from graphql_schema.cache_control import CacheControl
from graphql_schema.context import Info
from graphql_schema.types.predictions import (
    BacktestReport,
    ModelInfo,
    PredictInput,
    Prediction,
    PredictResult,
)


@strawberry.type
class PredictionsQuery:
    @strawberry.field(
        description="Stored predictions of a symbol, newest first.",
        directives=[CacheControl(max_age=10)],
    )
    async def predictions(self, info: Info, symbol: str, limit: int = 20) -> list[Prediction]:
        stored = await info.context.services.predictions.recent(symbol, limit=limit)
        return [Prediction.from_domain(prediction) for prediction in stored]

    @strawberry.field(
        description="The active trained model; null until one is trained.",
        directives=[CacheControl(max_age=60)],
    )
    async def model_info(self, info: Info) -> ModelInfo | None:
        model = await info.context.services.models.model_info()
        return None if model is None else ModelInfo.from_domain(model)

    @strawberry.field(directives=[CacheControl(max_age=300)])
    async def backtest(
        self,
        info: Info,
        symbol: str,
        start: date | None = None,
        end: date | None = None,
        method: PredictionMethod = PredictionMethod.MODEL,
    ) -> BacktestReport:
        report = await info.context.services.backtests.backtest(
            symbol, start=start, end=end, method=method
        )
        return BacktestReport.from_domain(report)


@strawberry.type
class PredictionsMutation:
    @strawberry.mutation
    async def predict(self, info: Info, input: PredictInput) -> PredictResult:
        context = info.context
        data = None if input.data is None else [(point.date, point.price) for point in input.data]
        if context.token is None:
            # Anonymous: rate limited before anything runs.
            anonymous_client, caller_check = context.client_address, None
        else:
            # A token this server signed is checked for revocation while the prediction's
            # inputs are read (one round trip less in sequence); any other is refused now,
            # so that it cannot start work the anonymous limit would have stopped.
            context.services.accounts.check_signature(context.token)
            anonymous_client, caller_check = None, context.current_user
        prediction = await context.services.predictions.predict(
            input.symbol,
            data=data,
            horizon_days=input.horizon_days,
            anonymous_client=anonymous_client,
            caller_check=caller_check,
        )
        return Prediction.from_domain(prediction)
