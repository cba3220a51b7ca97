// The active model's walk-forward (out-of-sample) metrics next to the RULES baseline and the
// majority class on the same periods, and per symbol, from modelInfo; null until a model is
// trained.
import {
  type ClassificationMetrics,
  type ModelInfo,
  MODEL_INFO,
  type ModelInfoData,
  type StrategyMetrics,
  type SymbolEvaluation,
} from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";
import { formatFraction, formatNumber, formatTime } from "../format";

type Metrics = ClassificationMetrics & Partial<StrategyMetrics>;
type Row = [string, (metrics: Metrics) => string];

const ROWS: Row[] = [
  ["samples", (m) => String(m.samples)],
  ["accuracy", (m) => formatFraction(m.accuracy)],
  ["balanced accuracy", (m) => formatFraction(m.balancedAccuracy)],
  ["macro F1", (m) => formatNumber(m.macroF1)],
  ["strategy return", (m) => formatFraction(m.totalReturn)],
  ["buy and hold", (m) => formatFraction(m.buyAndHoldReturn)],
  ["Sharpe", (m) => (m.sharpe == null ? "–" : formatNumber(m.sharpe))],
  ["max drawdown", (m) => formatFraction(m.maxDrawdown)],
  ["trades", (m) => (m.trades == null ? "–" : String(m.trades))],
];

// Per symbol: model / RULES / majority (or buy-and-hold) side by side in each cell.
const SYMBOL_COLUMNS: [string, (e: SymbolEvaluation) => string][] = [
  ["symbol", (e) => e.symbol],
  ["test rows", (e) => String(e.testRows)],
  ["span", (e) => `${e.testStart.slice(0, 10)} .. ${e.testEnd.slice(0, 10)}`],
  [
    "bal. acc. model / rules / majority",
    (e) => [e.model, e.rules, e.majority].map((m) => formatFraction(m.balancedAccuracy)).join(" / "),
  ],
  [
    "Sharpe model / rules / hold",
    (e) => [e.modelStrategy, e.rulesStrategy, e.buyAndHold].map((s) => formatNumber(s.sharpe)).join(" / "),
  ],
  [
    "return model / rules / hold",
    (e) =>
      [e.modelStrategy, e.rulesStrategy, e.buyAndHold].map((s) => formatFraction(s.totalReturn)).join(" / "),
  ],
];

function symbolTable(info: ModelInfo): HTMLElement {
  return h(
    "table",
    { class: "compact", testid: "model-symbols" },
    h("tr", {}, ...SYMBOL_COLUMNS.map(([title]) => h("th", {}, title))),
    ...info.symbolEvaluations.map((e) =>
      h("tr", { testid: `model-symbol-${e.symbol}` }, ...SYMBOL_COLUMNS.map(([, read]) => h("td", {}, read(e)))),
    ),
  );
}

function labelLine(info: ModelInfo): string {
  const shares = info.labelDistribution.map((l) => `${l.label} ${formatFraction(l.share)}`);
  return `Training labels: ${shares.join(", ")}.`;
}

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
          h(
            "tr",
            {},
            h("th", {}, ""),
            h("th", {}, "model"),
            h("th", {}, "rules baseline"),
            h("th", {}, "majority class"),
          ),
          ...ROWS.map(([label, read]) =>
            h(
              "tr",
              {},
              h("td", {}, label),
              h("td", {}, read(model)),
              h("td", {}, read(baseline)),
              h("td", {}, read(modelInfo.majorityMetrics)),
            ),
          ),
        ),
        h("p", { class: "muted" }, labelLine(modelInfo)),
        ...(modelInfo.symbolEvaluations.length ? [symbolTable(modelInfo)] : []),
      );
    })
    .catch(app.report);
}
