// The active model's walk-forward (out-of-sample) metrics next to the RULES baseline on the
// same periods, from modelInfo; null until a model is trained.
import {
  type ClassificationMetrics,
  MODEL_INFO,
  type ModelInfoData,
  type StrategyMetrics,
} from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";
import { formatFraction, formatNumber, formatTime } from "../format";

type Row = [string, (metrics: ClassificationMetrics & StrategyMetrics) => string];

const ROWS: Row[] = [
  ["samples", (m) => String(m.samples)],
  ["accuracy", (m) => formatFraction(m.accuracy)],
  ["balanced accuracy", (m) => formatFraction(m.balancedAccuracy)],
  ["macro F1", (m) => formatNumber(m.macroF1)],
  ["strategy return", (m) => formatFraction(m.totalReturn)],
  ["buy and hold", (m) => formatFraction(m.buyAndHoldReturn)],
  ["Sharpe", (m) => formatNumber(m.sharpe)],
  ["max drawdown", (m) => formatFraction(m.maxDrawdown)],
  ["trades", (m) => String(m.trades)],
];

export function mountModelInfo(root: HTMLElement, app: AppContext): void {
  const body = h("div", { testid: "model-info" }, "loading…");
  root.append(h("h2", {}, "Model (walk-forward)"), body);

  graphql<ModelInfoData>(MODEL_INFO)
    .then(({ modelInfo }) => {
      if (!modelInfo) {
        replaceChildren(body, h("p", { class: "muted" }, "No trained model yet: recommendations come from the rules. Train one with `stockql train`."));
        return;
      }
      const model = { ...modelInfo.metrics, ...modelInfo.strategy };
      const baseline = { ...modelInfo.baselineMetrics, ...modelInfo.baselineStrategy };
      replaceChildren(
        body,
        h(
          "p",
          { class: "muted" },
          `${modelInfo.algorithm} ${modelInfo.version}, ${modelInfo.horizonDays}-day horizon, `,
          `trained ${formatTime(modelInfo.trainedAt)} on ${modelInfo.symbols.join(", ")}`,
        ),
        h(
          "table",
          { class: "compact" },
          h("tr", {}, h("th", {}, ""), h("th", {}, "model"), h("th", {}, "rules baseline")),
          ...ROWS.map(([label, read]) =>
            h("tr", {}, h("td", {}, label), h("td", {}, read(model)), h("td", {}, read(baseline))),
          ),
        ),
      );
    })
    .catch(app.report);
}
