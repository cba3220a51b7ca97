// The connection badge (live / reconnecting) and the banner for top-level errors.
import { ApiError } from "../api/http";
import type { ConnectionState, LiveConnection } from "../api/live";
import { h } from "../dom";

const LABELS: Record<ConnectionState, string> = {
  idle: "idle",
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
};

export function mountConnectionBadge(root: HTMLElement, live: LiveConnection): void {
  const badge = h("span", { testid: "connection-status", class: "badge" });
  root.append(badge);
  live.state.watch((state) => {
    badge.textContent = LABELS[state];
    badge.dataset.state = state;
  });
}

export interface ErrorBanner {
  report: (error: unknown) => void;
}

export function mountErrorBanner(root: HTMLElement): ErrorBanner {
  const text = h("span", { testid: "error-text" });
  const close = h("button", { type: "button", class: "link" }, "dismiss");
  const banner = h("div", { testid: "error-banner", class: "error-banner", role: "alert" }, text, close);
  banner.hidden = true;
  close.addEventListener("click", () => {
    banner.hidden = true;
  });
  root.append(banner);
  return {
    report: (error: unknown) => {
      if (error instanceof ApiError) {
        banner.dataset.code = error.code;
        text.textContent = `${error.code}: ${error.message}`;
      } else {
        banner.dataset.code = "CLIENT_ERROR";
        text.textContent = error instanceof Error ? error.message : String(error);
      }
      banner.hidden = false;
    },
  };
}
