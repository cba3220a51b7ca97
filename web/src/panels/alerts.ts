// The signed-in user's alerts: create one on the selected symbol, list, delete. Validation
// failures (ValidationError members of CreateAlertResult) are shown next to the form.
import {
  type Alert,
  type AlertCondition,
  type AlertFrequency,
  CREATE_ALERT,
  type CreateAlertData,
  DELETE_ALERT,
  type DeleteAlertData,
  MY_ALERTS,
  type MyAlertsData,
} from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";
import { describeFailure } from "../failures";
import { formatTime } from "../format";
import { ALERT_FIRED } from "./notifications";

const CONDITIONS: [AlertCondition, string][] = [
  ["PRICE_ABOVE", "price above"],
  ["PRICE_BELOW", "price below"],
  ["CROSSES_ABOVE", "crosses above"],
  ["CROSSES_BELOW", "crosses below"],
  ["PERCENT_CHANGE_ABOVE", "day change % above"],
  ["PERCENT_CHANGE_BELOW", "day change % below"],
  ["RSI_ABOVE", "RSI above"],
  ["RSI_BELOW", "RSI below"],
  ["RECOMMENDATION_CHANGED", "recommendation changes"],
];
const FREQUENCIES: [AlertFrequency, string][] = [
  ["ONCE", "once"],
  ["ONCE_PER_DAY", "once a day"],
  ["EVERY_TIME", "every time"],
];

function select<T extends string>(testid: string, options: [T, string][]): HTMLSelectElement {
  return h("select", { testid }, ...options.map(([value, label]) => h("option", { value }, label)));
}

export function mountAlerts(root: HTMLElement, app: AppContext): void {
  const symbol = h("strong", { testid: "alert-symbol" });
  const condition = select("alert-condition", CONDITIONS);
  const threshold = h("input", { type: "number", step: "any", placeholder: "threshold", testid: "alert-threshold" });
  const frequency = select("alert-frequency", FREQUENCIES);
  const create = h("button", { type: "submit", testid: "alert-create" }, "Create alert");
  const errors = h("ul", { testid: "alert-error", class: "form-errors" });
  const form = h("form", { class: "alert-form" }, symbol, condition, threshold, frequency, create);
  const list = h("ul", { testid: "alert-list", class: "alert-list" });
  const signedOut = h("p", { class: "muted" }, "Sign in to set alerts.");
  root.append(h("h2", {}, "Alerts"), signedOut, form, errors, list);

  condition.addEventListener("change", () => {
    threshold.disabled = condition.value === "RECOMMENDATION_CHANGED";
  });

  const render = (alerts: Alert[]) => {
    replaceChildren(list, ...alerts.map((alert) => row(alert)));
  };

  const reload = () =>
    graphql<MyAlertsData>(MY_ALERTS)
      .then(({ me }) => render(me?.alerts ?? []))
      .catch(app.report);

  const row = (alert: Alert) => {
    const label = CONDITIONS.find(([value]) => value === alert.condition)?.[1] ?? alert.condition;
    const remove = h("button", { type: "button", class: "link", testid: "alert-delete" }, "delete");
    remove.addEventListener("click", () => {
      graphql<DeleteAlertData>(DELETE_ALERT, { id: alert.id })
        .then(() => reload())
        .catch(app.report);
    });
    return h(
      "li",
      { testid: "alert-row", "data-alert-id": alert.id, class: alert.active ? "" : "inactive" },
      `${alert.symbol} ${label}${alert.threshold == null ? "" : ` ${alert.threshold}`}`,
      h("span", { class: "muted" }, ` · ${alert.frequency.toLowerCase().replaceAll("_", " ")}`),
      alert.lastTriggeredAt && h("span", { class: "muted" }, ` · fired ${formatTime(alert.lastTriggeredAt)}`),
      !alert.active && h("span", { class: "muted" }, " · inactive"),
      remove,
    );
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = {
      symbol: app.symbol.value,
      condition: condition.value,
      frequency: frequency.value,
      threshold: threshold.disabled || threshold.value === "" ? null : Number(threshold.value),
    };
    graphql<CreateAlertData>(CREATE_ALERT, { input })
      .then(({ createAlert }) => {
        if (createAlert.__typename !== "Alert") {
          replaceChildren(errors, ...describeFailure(createAlert).map((line) => h("li", {}, line)));
          return;
        }
        replaceChildren(errors);
        threshold.value = "";
        void reload();
      })
      .catch(app.report);
  });

  app.symbol.watch((selected) => {
    symbol.textContent = selected;
  });
  window.addEventListener(ALERT_FIRED, () => {
    if (app.user.value) void reload();
  });
  app.user.watch((user) => {
    form.hidden = user === null;
    signedOut.hidden = user !== null;
    replaceChildren(errors);
    if (user) void reload();
    else replaceChildren(list);
  });
}
