// How numbers and times read on the page.
const price = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat("en-US", {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});
const time = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });

export function formatPrice(value: number | null | undefined): string {
  return value == null ? "–" : price.format(value);
}

/** `value` is a fraction: 0.25 reads "25.0%". */
export function formatFraction(value: number | null | undefined): string {
  return value == null ? "–" : percent.format(value);
}

/** `value` is already in percent, as in changePercent. */
export function formatSignedPercent(value: number | null | undefined): string {
  if (value == null) return "–";
  return `${value >= 0 ? "+" : ""}${value.toFixed(2)}%`;
}

export function formatTime(iso: string): string {
  return time.format(new Date(iso));
}

export function formatNumber(value: number, digits = 2): string {
  return value.toFixed(digits);
}
