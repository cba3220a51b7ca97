// The signed-in user's watchlist with prices that tick (one stockPrice stream per symbol).
// Signed out, it shows the server's tracked symbols instead.
import {
  ADD_TO_WATCHLIST,
  type AddToWatchlistData,
  REMOVE_FROM_WATCHLIST,
  type RemoveFromWatchlistData,
  SYMBOLS,
  type SymbolsData,
} from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";
import { formatPrice, formatSignedPercent } from "../format";

export function mountWatchlist(root: HTMLElement, app: AppContext): void {
  const title = h("h2", {}, "Watchlist");
  const add = h("button", { type: "button", testid: "watch-add" }, "");
  const rows = h("ul", { testid: "watchlist", class: "watchlist" });
  root.append(title, add, rows);

  let unwatch: (() => void)[] = [];

  const render = (symbols: string[], signedIn: boolean) => {
    for (const stop of unwatch) stop();
    unwatch = [];
    replaceChildren(rows);
    title.textContent = signedIn ? "Watchlist" : "Tracked symbols";
    if (signedIn && symbols.length === 0) {
      rows.append(h("li", { class: "muted" }, "Empty: add the symbol you are looking at."));
    }
    for (const symbol of symbols) rows.append(row(symbol, signedIn));
  };

  const row = (symbol: string, signedIn: boolean) => {
    const price = h("span", { testid: `watch-price-${symbol}`, class: "price" }, "–");
    const change = h("span", { class: "change" });
    const open = h("button", { type: "button", class: "link" }, symbol);
    open.addEventListener("click", () => app.symbol.set(symbol));
    const remove = signedIn && h("button", { type: "button", class: "link", testid: `watch-remove-${symbol}` }, "remove");
    if (remove) {
      remove.addEventListener("click", () => {
        graphql<RemoveFromWatchlistData>(REMOVE_FROM_WATCHLIST, { symbol })
          .then(({ removeFromWatchlist }) => app.user.set(removeFromWatchlist))
          .catch(app.report);
      });
    }
    unwatch.push(
      app.prices.watch(symbol, (update) => {
        price.textContent = formatPrice(update.price);
        change.textContent = formatSignedPercent(update.changePercent);
        change.classList.toggle("down", (update.change ?? 0) < 0);
      }),
    );
    return h("li", { testid: `watch-row-${symbol}` }, open, price, change, remove);
  };

  const updateAddButton = () => {
    const user = app.user.value;
    add.hidden = user === null || user.watchlist.includes(app.symbol.value);
    add.textContent = `+ ${app.symbol.value}`;
  };
  add.addEventListener("click", () => {
    graphql<AddToWatchlistData>(ADD_TO_WATCHLIST, { symbol: app.symbol.value })
      .then(({ addToWatchlist }) => app.user.set(addToWatchlist))
      .catch(app.report);
  });

  app.symbol.watch(updateAddButton);
  app.user.watch((user) => {
    updateAddButton();
    if (user) {
      render(user.watchlist, true);
      return;
    }
    graphql<SymbolsData>(SYMBOLS)
      .then(({ symbols }) => {
        if (app.user.value === null) render(symbols, false);
      })
      .catch(app.report);
  });
}
