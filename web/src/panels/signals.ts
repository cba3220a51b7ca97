// The selected symbol's current recommendation (predict) with its probabilities and reasons,
// and the recent stored predictions, refreshed when predictionUpdates says a new one exists.
import {
  PREDICT,
  PREDICTION_UPDATES,
  PREDICTIONS,
  type PredictData,
  type Prediction,
  type PredictionsData,
  type PredictionUpdatesData,
} from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";
import { describeFailure } from "../failures";
import { formatFraction, formatPrice, formatTime } from "../format";

export function mountSignals(root: HTMLElement, app: AppContext): void {
  const refresh = h("button", { type: "button", testid: "predict-button" }, "Predict again");
  const current = h("div", { testid: "recommendation", class: "recommendation" });
  const recent = h("table", { testid: "predictions", class: "compact" });
  root.append(
    h("div", { class: "panel-title" }, h("h2", {}, "Recommendation"), refresh),
    current,
    h("h3", {}, "Recent predictions"),
    recent,
  );

  const showCurrent = (prediction: Prediction) => {
    const { buy, hold, sell } = prediction.probabilities;
    replaceChildren(
      current,
      h(
        "div",
        { class: `call ${prediction.recommendation.toLowerCase()}` },
        h("strong", { testid: "recommendation-value" }, prediction.recommendation),
        ` ${formatFraction(prediction.confidence)} confident, ${prediction.horizonDays}-day horizon`,
      ),
      h(
        "div",
        { testid: "probabilities", class: "probabilities" },
        probability("buy", buy),
        probability("hold", hold),
        probability("sell", sell),
      ),
      h(
        "ul",
        { testid: "reasons", class: "reasons" },
        ...prediction.reasons.map((reason) => h("li", { title: reason.code }, reason.description)),
      ),
      h(
        "div",
        { class: "muted" },
        `${prediction.method}${prediction.modelVersion ? ` ${prediction.modelVersion}` : ""}`,
        ` · price ${formatPrice(prediction.price)} as of ${formatTime(prediction.asOf)}`,
      ),
    );
  };

  const showRecent = (predictions: Prediction[]) => {
    replaceChildren(
      recent,
      h("tr", {}, h("th", {}, "made"), h("th", {}, "call"), h("th", {}, "confidence"), h("th", {}, "method")),
      ...predictions.map((prediction) =>
        h(
          "tr",
          { testid: "prediction-row" },
          h("td", {}, formatTime(prediction.createdAt)),
          h("td", {}, prediction.recommendation),
          h("td", {}, formatFraction(prediction.confidence)),
          h("td", {}, prediction.method),
        ),
      ),
    );
  };

  const loadRecent = (symbol: string) =>
    graphql<PredictionsData>(PREDICTIONS, { symbol })
      .then(({ predictions }) => {
        if (symbol !== app.symbol.value) return;
        showRecent(predictions);
        const newest = predictions[0];
        if (newest) showCurrent(newest);
      })
      .catch(app.report);

  const predict = async (symbol: string) => {
    replaceChildren(current, h("span", { class: "muted" }, "thinking…"));
    try {
      const { predict } = await graphql<PredictData>(PREDICT, { symbol });
      if (symbol !== app.symbol.value) return;
      if (predict.__typename === "Prediction") showCurrent(predict);
      else replaceChildren(current, h("div", { class: "form-errors", testid: "predict-error" }, ...describeFailure(predict)));
    } catch (error) {
      app.report(error);
    }
    await loadRecent(symbol);
  };

  refresh.addEventListener("click", () => void predict(app.symbol.value));

  let unsubscribe: (() => void) | null = null;
  app.symbol.watch((symbol) => {
    unsubscribe?.();
    void predict(symbol);
    unsubscribe = app.live.subscribe<PredictionUpdatesData>({
      query: PREDICTION_UPDATES,
      variables: () => ({ symbol }),
      next: () => void loadRecent(symbol),
      error: app.report,
      resumed: () => void loadRecent(symbol),
    });
  });
}

function probability(label: string, value: number): HTMLElement {
  const bar = h("span", { class: "bar" });
  bar.style.width = `${Math.round(value * 100)}%`;
  return h(
    "div",
    { testid: `probability-${label}`, class: `probability ${label}` },
    h("span", { class: "label" }, label),
    h("span", { class: "track" }, bar),
    h("span", { class: "value" }, formatFraction(value)),
  );
}
