// The chart's series: candles with SMA/EMA/Bollinger overlays in the first pane, RSI in the
// second and MACD in the third. Turns a PriceHistory answer into lightweight-charts data.
import {
  CandlestickSeries,
  type CandlestickData,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  LineSeries,
  type LineData,
  type UTCTimestamp,
} from "lightweight-charts";
import type { Interval, PriceHistory, PriceUpdate } from "../api/documents";

const PRICE_PANE = 0;
const RSI_PANE = 1;
const MACD_PANE = 2;

export type Overlay = "sma" | "ema" | "bollinger";

const MINUTES: Partial<Record<Interval, number>> = {
  ONE_MINUTE: 1,
  FIVE_MINUTES: 5,
  FIFTEEN_MINUTES: 15,
  THIRTY_MINUTES: 30,
  ONE_HOUR: 60,
  DAILY: 24 * 60,
};

function seconds(iso: string): UTCTimestamp {
  return Math.floor(Date.parse(iso) / 1000) as UTCTimestamp;
}

function line(points: { timestamp: string; value: number }[]): LineData[] {
  return points.map((point) => ({ time: seconds(point.timestamp), value: point.value }));
}

export class ChartSeries {
  private readonly candles: ISeriesApi<"Candlestick">;
  private readonly overlays: Record<Overlay, ISeriesApi<"Line">[]>;
  private readonly rsi: ISeriesApi<"Line">;
  private readonly macd: ISeriesApi<"Line">;
  private readonly macdSignal: ISeriesApi<"Line">;
  private readonly macdHistogram: ISeriesApi<"Histogram">;
  private lastCandle: CandlestickData | null = null;
  private interval: Interval = "DAILY";

  constructor(private readonly chart: IChartApi) {
    this.candles = chart.addSeries(CandlestickSeries, {}, PRICE_PANE);
    const overlay = (color: string, lineWidth: 1 | 2 = 2) =>
      chart.addSeries(LineSeries, { color, lineWidth, priceLineVisible: false, lastValueVisible: false }, PRICE_PANE);
    this.overlays = {
      sma: [overlay("#f59e0b")],
      ema: [overlay("#8b5cf6")],
      bollinger: [overlay("#94a3b8", 1), overlay("#64748b", 1), overlay("#94a3b8", 1)],
    };
    this.rsi = chart.addSeries(LineSeries, { color: "#0ea5e9", lineWidth: 1 }, RSI_PANE);
    this.rsi.createPriceLine({ price: 70, color: "#ef4444", lineWidth: 1, axisLabelVisible: false });
    this.rsi.createPriceLine({ price: 30, color: "#22c55e", lineWidth: 1, axisLabelVisible: false });
    this.macdHistogram = chart.addSeries(HistogramSeries, { color: "#cbd5e1", priceLineVisible: false }, MACD_PANE);
    this.macd = chart.addSeries(LineSeries, { color: "#2563eb", lineWidth: 1 }, MACD_PANE);
    this.macdSignal = chart.addSeries(LineSeries, { color: "#f97316", lineWidth: 1 }, MACD_PANE);
    // Shares of the chart's height, so the panes keep their proportions at any size.
    const [pricePane, rsiPane, macdPane] = chart.panes();
    pricePane?.setStretchFactor(0.6);
    rsiPane?.setStretchFactor(0.18);
    macdPane?.setStretchFactor(0.22);
  }

  /** Replaces every series; returns how many candles were loaded. */
  show(history: PriceHistory, interval: Interval): number {
    const { columns } = history;
    const candles: CandlestickData[] = columns.timestamp.map((timestamp, i) => ({
      time: seconds(timestamp),
      open: columns.open[i] ?? 0,
      high: columns.high[i] ?? 0,
      low: columns.low[i] ?? 0,
      close: columns.close[i] ?? 0,
    }));
    this.interval = interval;
    this.lastCandle = candles.at(-1) ?? null;
    this.candles.setData(candles);
    this.overlays.sma[0]?.setData(line(history.sma));
    this.overlays.ema[0]?.setData(line(history.ema));
    const [upper, middle, lower] = this.overlays.bollinger;
    const band = (pick: (point: PriceHistory["bollinger"][number]) => number) =>
      history.bollinger.map((point) => ({ time: seconds(point.timestamp), value: pick(point) }));
    upper?.setData(band((point) => point.upper));
    middle?.setData(band((point) => point.middle));
    lower?.setData(band((point) => point.lower));
    this.rsi.setData(line(history.rsi));
    this.macd.setData(history.macd.map((p) => ({ time: seconds(p.timestamp), value: p.macd })));
    this.macdSignal.setData(history.macd.map((p) => ({ time: seconds(p.timestamp), value: p.signal })));
    this.macdHistogram.setData(
      history.macd.map((p) => ({
        time: seconds(p.timestamp),
        value: p.histogram,
        color: p.histogram >= 0 ? "#86efac" : "#fca5a5",
      })),
    );
    this.chart.timeScale().fitContent();
    return candles.length;
  }

  setOverlayVisible(overlay: Overlay, visible: boolean): void {
    for (const series of this.overlays[overlay]) series.applyOptions({ visible });
  }

  /** Moves the newest candle with a live price, or opens the next one when its time came. */
  tick(update: PriceUpdate): void {
    const minutes = MINUTES[this.interval];
    const last = this.lastCandle;
    if (!minutes || !last) return; // weekly candles are left to the next load
    const bucket = minutes * 60;
    const time = (Math.floor(seconds(update.timestamp) / bucket) * bucket) as UTCTimestamp;
    if (time < (last.time as number)) return;
    const { price } = update;
    const candle: CandlestickData =
      time === last.time
        ? { ...last, high: Math.max(last.high, price), low: Math.min(last.low, price), close: price }
        : { time, open: last.close, high: Math.max(last.close, price), low: Math.min(last.close, price), close: price };
    this.lastCandle = candle;
    this.candles.update(candle);
  }
}
