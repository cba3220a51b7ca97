// What every panel shares: the live connection, the price streams, the selected symbol, the
// signed-in user and one place to show errors.
import type { User } from "./api/documents";
import type { LiveConnection } from "./api/live";
import type { LivePrices } from "./live-prices";
import type { Observable } from "./observable";

export interface AppContext {
  live: LiveConnection;
  prices: LivePrices;
  symbol: Observable<string>;
  user: Observable<User | null>;
  /** Shows a top-level error (an ApiError's code and message) in the page's banner. */
  report: (error: unknown) => void;
}
