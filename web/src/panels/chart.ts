// The selected symbol's chart with interval and range switches and overlay toggles. History
// is loaded on every change of symbol, interval or range; live prices move the last candle.
import { createChart } from "lightweight-charts";
import { HISTORY, type HistoryData, type Interval } from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h } from "../dom";
import { ChartSeries, type Overlay } from "./chart-series";

const INTERVALS: [Interval, string][] = [
  ["FIVE_MINUTES", "5 min"],
  ["FIFTEEN_MINUTES", "15 min"],
  ["ONE_HOUR", "1 hour"],
  ["DAILY", "daily"],
  ["WEEKLY", "weekly"],
];
const INTRADAY = new Set<Interval>(["ONE_MINUTE", "FIVE_MINUTES", "FIFTEEN_MINUTES", "THIRTY_MINUTES", "ONE_HOUR"]);

// Calendar days back from today; intraday data only goes back about a month.
const RANGES: { label: string; days: number; intraday: boolean; daily: boolean }[] = [
  { label: "5D", days: 7, intraday: true, daily: false },
  { label: "1M", days: 31, intraday: true, daily: true },
  { label: "3M", days: 92, intraday: false, daily: true },
  { label: "6M", days: 183, intraday: false, daily: true },
  { label: "1Y", days: 366, intraday: false, daily: true },
  { label: "5Y", days: 1827, intraday: false, daily: true },
];
const MAX_BARS = 5000;

function isoDateDaysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

export function mountChart(root: HTMLElement, app: AppContext): void {
  const intervalSelect = h("select", { testid: "interval-select", "aria-label": "Interval" });
  for (const [value, label] of INTERVALS) intervalSelect.append(h("option", { value }, label));
  intervalSelect.value = "DAILY";
  const ranges = h("div", { class: "chips", testid: "range-buttons" });
  const toggles = h("div", { class: "toggles" });
  const status = h("span", { testid: "chart-status", class: "muted" }, "loading…");
  const container = h("div", { testid: "chart", class: "chart" });
  // The attribution lightweight-charts asks for, as a plain link: its own logo injects a
  // <style> element, which the page's Content-Security-Policy refuses.
  const attribution = h(
    "a",
    { href: "https://www.tradingview.com/lightweight-charts/", target: "_blank", rel: "noopener", class: "muted attribution" },
    "Charts by TradingView Lightweight Charts™",
  );
  root.append(h("div", { class: "toolbar" }, intervalSelect, ranges, toggles, status), container, attribution);

  const chart = createChart(container, {
    autoSize: true,
    layout: { attributionLogo: false, background: { color: "#ffffff" }, textColor: "#334155" },
    grid: { vertLines: { color: "#f1f5f9" }, horzLines: { color: "#f1f5f9" } },
  });
  const series = new ChartSeries(chart);

  const overlayNames: [Overlay, string][] = [
    ["sma", "SMA 20"],
    ["ema", "EMA 50"],
    ["bollinger", "Bollinger 20, 2σ"],
  ];
  for (const [overlay, label] of overlayNames) {
    const box = h("input", { type: "checkbox", checked: true, testid: `overlay-${overlay}` });
    box.addEventListener("change", () => series.setOverlayVisible(overlay, box.checked));
    toggles.append(h("label", {}, box, label));
  }

  let range = "6M";
  let loads = 0;
  const load = async () => {
    const interval = intervalSelect.value as Interval;
    const intraday = INTRADAY.has(interval);
    const choices = RANGES.filter((choice) => (intraday ? choice.intraday : choice.daily));
    if (!choices.some((choice) => choice.label === range)) range = choices.at(-1)?.label ?? "1M";
    ranges.replaceChildren(
      ...choices.map((choice) => {
        const button = h("button", { type: "button", testid: `range-${choice.label}` }, choice.label);
        button.classList.toggle("selected", choice.label === range);
        button.addEventListener("click", () => {
          range = choice.label;
          void load();
        });
        return button;
      }),
    );
    const days = RANGES.find((choice) => choice.label === range)?.days ?? 183;
    const request = ++loads;
    container.dataset.state = "loading";
    status.textContent = "loading…";
    try {
      const { history } = await graphql<HistoryData>(HISTORY, {
        symbol: app.symbol.value,
        interval,
        start: isoDateDaysAgo(days),
        limit: MAX_BARS,
      });
      if (request !== loads) return; // a newer choice was made meanwhile
      chart.applyOptions({ timeScale: { timeVisible: intraday } });
      const bars = series.show(history, interval);
      container.dataset.bars = String(bars);
      container.dataset.state = "ready";
      status.textContent = `${bars} bars from ${history.source}${history.stale ? " (stale)" : ""}`;
    } catch (error) {
      if (request !== loads) return;
      container.dataset.state = "error";
      status.textContent = "no data";
      app.report(error);
    }
  };

  intervalSelect.addEventListener("change", () => void load());
  let unwatch: (() => void) | null = null;
  app.symbol.watch((symbol) => {
    unwatch?.();
    void load();
    unwatch = app.prices.watch(symbol, (update) => series.tick(update));
  });
}
