// The dashboard: wires the shared context and mounts each panel into its place in index.html.
import type { User } from "./api/documents";
import { LiveConnection } from "./api/live";
import type { AppContext } from "./context";
import { byTestId } from "./dom";
import { LivePrices } from "./live-prices";
import { Observable } from "./observable";
import { mountAlerts } from "./panels/alerts";
import { mountAuth } from "./panels/auth";
import { mountChart } from "./panels/chart";
import { mountModelInfo } from "./panels/model";
import { mountNotifications } from "./panels/notifications";
import { mountSignals } from "./panels/signals";
import { mountConnectionBadge, mountErrorBanner } from "./panels/status";
import { mountSymbolPicker } from "./panels/symbols";
import { mountTicker } from "./panels/ticker";
import { mountWatchlist } from "./panels/watchlist";
import { onTokenChange, setToken } from "./session";
import "./styles.css";

const DEFAULT_SYMBOL = "AAPL";

function socketUrl(): string {
  const url = new URL("/graphql", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function start(): void {
  const page = document.body;
  const banner = mountErrorBanner(byTestId(page, "banner-slot"));
  const user = new Observable<User | null>(null);
  const live = new LiveConnection(socketUrl(), () => {
    banner.report(new Error("Your session ended: please sign in again."));
    setToken(null);
    user.set(null);
  });
  onTokenChange(() => live.restart());

  const app: AppContext = {
    live,
    prices: new LivePrices(live, banner.report),
    symbol: new Observable(new URLSearchParams(window.location.search).get("symbol")?.toUpperCase() || DEFAULT_SYMBOL),
    user,
    report: banner.report,
  };
  app.symbol.watch((symbol) => {
    document.title = `${symbol} · StockQL`;
  });

  mountConnectionBadge(byTestId(page, "connection-slot"), live);
  mountAuth(byTestId(page, "auth-slot"), app);
  mountSymbolPicker(byTestId(page, "symbols-slot"), app);
  mountWatchlist(byTestId(page, "watchlist-slot"), app);
  mountTicker(byTestId(page, "ticker-slot"), app);
  mountChart(byTestId(page, "chart-slot"), app);
  mountSignals(byTestId(page, "signals-slot"), app);
  mountModelInfo(byTestId(page, "model-slot"), app);
  mountAlerts(byTestId(page, "alerts-slot"), app);
  mountNotifications(byTestId(page, "notifications-slot"), app);
}

start();
