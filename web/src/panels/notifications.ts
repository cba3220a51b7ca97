// The notifications panel: the stored ones at sign-in, then each new one as userNotifications
// delivers it, with the unread count and "mark all read". After a dropped connection the
// stored list is read again, since this subscription cannot replay what it missed.
import {
  MARK_NOTIFICATIONS_READ,
  type MarkNotificationsReadData,
  type Notification,
  NOTIFICATIONS,
  type NotificationsData,
  USER_NOTIFICATIONS,
  type UserNotificationsData,
} from "../api/documents";
import { graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";
import { formatTime } from "../format";

const KEPT = 30;
/** Dispatched on window when one of the user's alerts fired. */
export const ALERT_FIRED = "stockql:alert-fired";
// Price alerts notify PRICE_ALERT; recommendation-change alerts PREDICTION_UPDATE.
const FROM_ALERTS = new Set(["PRICE_ALERT", "PREDICTION_UPDATE"]);

export function mountNotifications(root: HTMLElement, app: AppContext): void {
  const unread = h("span", { testid: "unread-count", class: "count" }, "0");
  const markRead = h("button", { type: "button", class: "link", testid: "mark-read" }, "mark all read");
  const list = h("ul", { testid: "notification-list", class: "notifications" });
  root.append(h("div", { class: "panel-title" }, h("h2", {}, "Notifications "), unread, markRead), list);

  let notifications: Notification[] = [];

  const render = () => {
    const count = notifications.filter((notification) => !notification.read).length;
    unread.textContent = String(count);
    unread.dataset.count = String(count);
    markRead.hidden = count === 0;
    replaceChildren(
      list,
      ...notifications.map((notification) =>
        h(
          "li",
          { testid: "notification-item", class: notification.read ? "read" : "unread", "data-type": notification.type },
          h("span", {}, notification.message),
          h("span", { class: "muted" }, ` ${formatTime(notification.createdAt)}`),
        ),
      ),
    );
  };

  const reload = () =>
    graphql<NotificationsData>(NOTIFICATIONS)
      .then((data) => {
        notifications = data.notifications;
        render();
      })
      .catch(app.report);

  markRead.addEventListener("click", () => {
    graphql<MarkNotificationsReadData>(MARK_NOTIFICATIONS_READ)
      .then(() => reload())
      .catch(app.report);
  });

  let unsubscribe: (() => void) | null = null;
  app.user.watch((user) => {
    unsubscribe?.();
    unsubscribe = null;
    notifications = [];
    render();
    root.hidden = user === null;
    if (!user) return;
    void reload();
    unsubscribe = app.live.subscribe<UserNotificationsData>({
      query: USER_NOTIFICATIONS,
      variables: () => ({}),
      next: ({ userNotifications }) => {
        if (notifications.some((known) => known.id === userNotifications.id)) return;
        notifications = [userNotifications, ...notifications].slice(0, KEPT);
        render();
        // A fired alert may have changed (ONCE deactivates, lastTriggeredAt): the alerts panel
        // listens for this rather than opening a second subscription.
        if (FROM_ALERTS.has(userNotifications.type)) window.dispatchEvent(new Event(ALERT_FIRED));
      },
      error: app.report,
      resumed: () => void reload(),
    });
  });
}
