// The symbol picker: the server's tracked symbols as quick picks and searchSymbols for the rest.
import {
  SEARCH_SYMBOLS,
  type SearchSymbolsData,
  SYMBOLS,
  type SymbolsData,
} from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";

const SEARCH_DELAY_MS = 250;

export function mountSymbolPicker(root: HTMLElement, app: AppContext): void {
  const tracked = h("div", { testid: "tracked-symbols", class: "chips" });
  const search = h("input", {
    type: "search",
    placeholder: "Search symbols or companies",
    testid: "symbol-search",
    "aria-label": "Search symbols",
  });
  const results = h("ul", { testid: "symbol-results", class: "results" });
  root.append(h("h2", {}, "Symbols"), tracked, search, results);

  const pickButton = (symbol: string, label: string = symbol) => {
    const button = h("button", { type: "button", testid: `pick-${symbol}` }, label);
    button.addEventListener("click", () => app.symbol.set(symbol));
    return button;
  };

  app.symbol.watch((selected) => {
    for (const button of tracked.querySelectorAll("button")) {
      button.classList.toggle("selected", button.textContent === selected);
    }
  });

  graphql<SymbolsData>(SYMBOLS)
    .then(({ symbols }) => {
      replaceChildren(tracked, ...symbols.map((symbol) => pickButton(symbol)));
      tracked.querySelector(`[data-testid="pick-${app.symbol.value}"]`)?.classList.add("selected");
    })
    .catch(app.report);

  let timer: number | undefined;
  let asked = 0;
  search.addEventListener("input", () => {
    window.clearTimeout(timer);
    const query = search.value.trim();
    if (!query) {
      replaceChildren(results);
      return;
    }
    timer = window.setTimeout(async () => {
      const question = ++asked;
      try {
        const { searchSymbols } = await graphql<SearchSymbolsData>(SEARCH_SYMBOLS, { query });
        if (question !== asked) return; // an older answer arriving late
        replaceChildren(
          results,
          ...searchSymbols.map((match) =>
            h("li", {}, pickButton(match.symbol, `${match.symbol} — ${match.name}`)),
          ),
          searchSymbols.length === 0 && h("li", { class: "muted" }, "No match"),
        );
      } catch (error) {
        app.report(error);
      }
    }, SEARCH_DELAY_MS);
  });
}
