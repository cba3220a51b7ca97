// The selected symbol's live price: it changes with every stockPrice update.
import type { AppContext } from "../context";
import { h } from "../dom";
import { formatPrice, formatSignedPercent, formatTime } from "../format";

export function mountTicker(root: HTMLElement, app: AppContext): void {
  const symbol = h("h2", { testid: "current-symbol" });
  const price = h("span", { testid: "live-price", class: "live-price" }, "–");
  const change = h("span", { testid: "live-change", class: "change" });
  const time = h("span", { testid: "live-time", class: "muted" });
  root.append(h("div", { class: "ticker" }, symbol, price, change, time));

  let unwatch: (() => void) | null = null;
  app.symbol.watch((selected) => {
    unwatch?.();
    symbol.textContent = selected;
    price.textContent = "–";
    change.textContent = "";
    time.textContent = "";
    delete price.dataset.sequence;
    unwatch = app.prices.watch(selected, (update) => {
      price.textContent = formatPrice(update.price);
      price.dataset.sequence = update.sequence;
      price.dataset.updates = String(Number(price.dataset.updates ?? "0") + 1);
      change.textContent = formatSignedPercent(update.changePercent);
      change.classList.toggle("down", (update.change ?? 0) < 0);
      time.textContent = formatTime(update.timestamp);
    });
  });
}
