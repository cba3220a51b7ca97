"""The dashboard and GraphiQL in headless Chromium against a real server: sign up, a chart
that renders, live prices, an alert that fires and its notification, a dropped connection
that resumes without a gap, and GraphiQL working with no request leaving the machine."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Page, Response, WebSocketRoute, expect

from tests.e2e.conftest import BrowserTab, DashboardServer, save_screenshot_path

PASSWORD = "a long enough secret"
# Generous: two CPU cores are shared with the server, its worker and Chromium.
SLOW = 20_000

# Pixels in lightweight-charts' default candle colours (up #26a69a, down #ef5350) over every
# canvas of the chart: proves candles were drawn, not just that a canvas exists.
COUNT_CANDLE_PIXELS = """chart => {
  let count = 0;
  for (const canvas of chart.querySelectorAll("canvas")) {
    if (!canvas.width || !canvas.height) continue;
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if ((Math.abs(r - 38) + Math.abs(g - 166) + Math.abs(b - 154) < 30) ||
          (Math.abs(r - 239) + Math.abs(g - 83) + Math.abs(b - 80) < 30)) count++;
    }
  }
  return count;
}"""

# Remembers every state the connection badge shows, however briefly.
RECORD_CONNECTION_STATES = """() => {
  const badge = document.querySelector('[data-testid="connection-status"]');
  window.connectionStates = [badge.dataset.state];
  new MutationObserver(() => window.connectionStates.push(badge.dataset.state))
    .observe(badge, { attributes: true, attributeFilter: ["data-state"] });
}"""


async def sign_up(page: Page, email: str) -> None:
    await page.get_by_test_id("auth-name").fill("Ada")
    await page.get_by_test_id("auth-email").fill(email)
    await page.get_by_test_id("auth-password").fill(PASSWORD)
    await page.get_by_test_id("signup-button").click()
    await expect(page.get_by_test_id("signed-in-user")).to_contain_text(email, timeout=SLOW)


async def test_a_new_user_sees_the_chart_live_prices_and_a_firing_alert(
    dashboard_server: DashboardServer, tab: BrowserTab
) -> None:
    page = tab.page
    await page.goto(dashboard_server.base_url + "/")
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    await sign_up(page, email)

    await page.get_by_test_id("symbol-search").fill("Microsoft")
    await page.get_by_test_id("symbol-results").get_by_test_id("pick-MSFT").click()
    await expect(page.get_by_test_id("current-symbol")).to_have_text("MSFT")

    chart = page.get_by_test_id("chart")
    await expect(chart).to_have_attribute("data-state", "ready", timeout=SLOW)
    assert int(await chart.get_attribute("data-bars") or 0) > 50
    box = await chart.locator("canvas").first.bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 100
    assert await chart.evaluate(COUNT_CANDLE_PIXELS) > 200

    price = page.get_by_test_id("live-price")
    await expect(price).to_have_attribute("data-sequence", re.compile(".+"), timeout=SLOW)
    first_sequence = await price.get_attribute("data-sequence")
    await expect(price).not_to_have_attribute("data-sequence", first_sequence or "", timeout=SLOW)
    await expect(price).to_have_text(re.compile(r"^[\d,]+\.\d\d$"))
    await expect(page.get_by_test_id("connection-status")).to_have_text("live")

    await page.get_by_test_id("watch-add").click()
    await expect(page.get_by_test_id("watch-price-MSFT")).to_have_text(re.compile(r"\d"))

    # A typed failure (a ValidationError member of CreateAlertResult) is shown by the form.
    await page.get_by_test_id("alert-condition").select_option("PRICE_ABOVE")
    await page.get_by_test_id("alert-create").click()
    await expect(page.get_by_test_id("alert-error")).to_contain_text("threshold")

    # Any price is above 1: the alert fires on the next price update.
    await page.get_by_test_id("alert-threshold").fill("1")
    await page.get_by_test_id("alert-create").click()
    await expect(page.get_by_test_id("alert-row")).to_contain_text("MSFT price above 1")
    await expect(page.get_by_test_id("alert-error")).to_be_empty()

    notification = page.get_by_test_id("notification-item").filter(has_text="MSFT")
    await expect(notification.first).to_be_visible(timeout=SLOW)
    await expect(notification.first).to_have_attribute("data-type", "PRICE_ALERT")
    await expect(page.get_by_test_id("unread-count")).not_to_have_text("0")
    # A ONCE alert is deactivated by firing: the list shows it without a reload.
    await expect(page.get_by_test_id("alert-row")).to_contain_text("inactive")

    screenshot = save_screenshot_path("dashboard.png")
    await page.screenshot(path=screenshot, full_page=True)
    print(f"dashboard screenshot: {screenshot}")

    await page.get_by_test_id("mark-read").click()
    await expect(page.get_by_test_id("unread-count")).to_have_text("0")

    await page.get_by_test_id("signout-button").click()
    await expect(page.get_by_test_id("notifications-slot")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0
    await page.get_by_test_id("auth-email").fill(email)
    await page.get_by_test_id("auth-password").fill("not the password")
    await page.get_by_test_id("signin-button").click()
    await expect(page.get_by_test_id("auth-error")).not_to_be_empty()  # InvalidCredentialsError
    await page.get_by_test_id("auth-password").fill(PASSWORD)
    await page.get_by_test_id("signin-button").click()
    await expect(page.get_by_test_id("signed-in-user")).to_contain_text(email)
    await expect(page.get_by_test_id("alert-row")).to_contain_text("MSFT price above 1")
    tab.problems.assert_none()


@dataclass
class ProxiedSocket:
    """One page websocket, passed through to the server, with every message kept."""

    page_side: WebSocketRoute
    server_side: WebSocketRoute
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    dropped: bool = False

    async def drop(self, code: int) -> None:
        """Cut the connection as a restarting server would; the page sees `code`."""
        self.dropped = True  # what the server still sends never reaches the page
        await self.page_side.close(code=code, reason="dropped by the test")
        await self.server_side.close()

    def price_sequences(self, symbol: str) -> list[str]:
        """The sequences of `symbol`'s price updates the page received, in order."""
        updates = [
            message["payload"]["data"]["stockPrice"]
            for message in self.received
            if message["type"] == "next" and "stockPrice" in (message["payload"].get("data") or {})
        ]
        return [update["sequence"] for update in updates if update["symbol"] == symbol]

    def price_subscriptions(self) -> list[dict[str, Any]]:
        """The variables of every stockPrice subscription the page sent."""
        return [
            message["payload"]["variables"]
            for message in self.sent
            if message["type"] == "subscribe" and "stockPrice" in message["payload"]["query"]
        ]


def proxy_into(sockets: list[ProxiedSocket]) -> Callable[[WebSocketRoute], None]:
    def proxy(route: WebSocketRoute) -> None:
        socket = ProxiedSocket(route, route.connect_to_server())
        sockets.append(socket)

        def to_server(message: str | bytes) -> None:
            socket.sent.append(json.loads(message))
            socket.server_side.send(message)

        def to_page(message: str | bytes) -> None:
            if not socket.dropped:
                socket.received.append(json.loads(message))
                route.send(message)

        route.on_message(to_server)
        socket.server_side.on_message(to_page)

    return proxy


async def test_a_dropped_connection_shows_reconnecting_and_resumes_after_the_last_sequence(
    dashboard_server: DashboardServer, tab: BrowserTab
) -> None:
    page = tab.page
    sockets: list[ProxiedSocket] = []
    await page.route_web_socket(re.compile(r"/graphql$"), proxy_into(sockets))
    await page.goto(dashboard_server.base_url + "/?symbol=AAPL")
    price = page.get_by_test_id("live-price")
    await expect(price).to_have_attribute(
        "data-updates", re.compile(r"^([3-9]|\d\d+)$"), timeout=SLOW
    )
    await page.evaluate(RECORD_CONNECTION_STATES)

    dropped = sockets[0]
    await dropped.drop(code=1012)  # "service restart"
    await expect(page.get_by_test_id("connection-status")).to_have_text("live", timeout=SLOW)
    assert "reconnecting" in await page.evaluate("window.connectionStates")

    assert len(sockets) == 2
    before = dropped.price_sequences("AAPL")
    resumed_with = [v for v in sockets[1].price_subscriptions() if v["symbol"] == "AAPL"]
    assert resumed_with == [{"symbol": "AAPL", "after": before[-1]}]

    await expect(price).not_to_have_attribute("data-sequence", before[-1], timeout=SLOW)
    after = sockets[1].price_sequences("AAPL")
    assert after
    assert not set(after) & set(before), "an update was delivered twice"
    tab.problems.assert_none()


def is_introspection(response: Response) -> bool:
    return "IntrospectionQuery" in (response.request.post_data or "")


async def test_graphiql_runs_a_subscription_with_no_request_leaving_the_machine(
    dashboard_server: DashboardServer, tab: BrowserTab
) -> None:
    page = tab.page
    websockets: list[str] = []
    page.on("websocket", lambda socket: websockets.append(socket.url))
    subscription = 'subscription { stockPrice(symbol: "MSFT") { price sequence } }'
    await page.add_init_script(
        f"localStorage.setItem('graphiql:query', {json.dumps(subscription)})"
    )

    # GraphiQL runs nothing before its editors are up, which is after it asked for the schema.
    async with page.expect_response(is_introspection, timeout=SLOW):
        response = await page.goto(dashboard_server.base_url + "/graphql")
    assert response is not None
    # The page built from web/, not strawberry's page from a CDN.
    assert "script-src 'self'" in (await response.header_value("content-security-policy") or "")
    # A click before the editor holds the stored query runs nothing (seen under load).
    await expect(page.locator(".graphiql-query-editor")).to_contain_text("stockPrice", timeout=SLOW)
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(".result-window")).to_contain_text('"sequence"', timeout=SLOW)

    assert [url for url in websockets if url.endswith("/graphql")], websockets
    tab.problems.assert_none()


def run(total_return: float, sharpe: float) -> dict[str, float]:
    return {"totalReturn": total_return, "sharpe": sharpe}


def scores(balanced_accuracy: float, samples: int = 2500) -> dict[str, float]:
    return {
        "samples": samples,
        "accuracy": 0.35,
        "balancedAccuracy": balanced_accuracy,
        "macroF1": 0.33,
    }


def symbol_evaluation(symbol: str, model: float, sharpe: float) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "testRows": 2500,
        "testStart": "2002-12-12T00:00:00+00:00",
        "testEnd": "2013-02-22T00:00:00+00:00",
        "model": {"balancedAccuracy": model},
        "rules": {"balancedAccuracy": 0.33},
        "majority": {"balancedAccuracy": 0.3333},
        "modelStrategy": run(1.05, sharpe),
        "rulesStrategy": run(0.15, 0.16),
        "buyAndHold": run(1.9, 0.59),
    }


STRATEGY = {"totalReturn": 1.0, "buyAndHoldReturn": 1.9, "sharpe": 0.6, "maxDrawdown": 0.4}
# What modelInfo answers for a pooled model of two symbols (the API test checks the server's
# side: tests/api/test_predictions_api.py); here, how the panel shows it.
MODEL_INFO_ANSWER = {
    "data": {
        "modelInfo": {
            "version": "gradient_boosting-h5-20261207T000000Z-abcdef12",
            "trainedAt": "2026-12-07T00:00:00+00:00",
            "algorithm": "gradient_boosting",
            "horizonDays": 5,
            "symbols": ["AAPL", "IBM"],
            "metrics": scores(0.382),
            "baselineMetrics": scores(0.328),
            "majorityMetrics": scores(0.333),
            "strategy": {**STRATEGY, "trades": 300},
            "baselineStrategy": {**STRATEGY, "trades": 28},
            "symbolEvaluations": [
                symbol_evaluation("AAPL", 0.334, 1.19),
                symbol_evaluation("IBM", 0.367, 0.47),
            ],
            "labelDistribution": [
                {"label": "SELL", "count": 3440, "share": 0.344},
                {"label": "HOLD", "count": 2330, "share": 0.233},
                {"label": "BUY", "count": 4230, "share": 0.423},
            ],
        }
    }
}


async def test_the_model_panel_shows_the_majority_class_labels_and_each_symbol(
    dashboard_server: DashboardServer, tab: BrowserTab
) -> None:
    page = tab.page

    async def answer_model_info(route: Any) -> None:
        body = route.request.post_data_json or {}
        if str(body.get("query", "")).startswith("query ModelInfo"):
            await route.fulfill(json=MODEL_INFO_ANSWER)
        else:
            await route.fallback()

    await page.route("**/graphql", answer_model_info)
    await page.goto(dashboard_server.base_url + "/")

    panel = page.get_by_test_id("model-info")
    await expect(panel).to_contain_text("majority class", timeout=SLOW)
    await expect(panel).to_contain_text("Training labels: SELL 34.4%, HOLD 23.3%, BUY 42.3%.")
    symbols = page.get_by_test_id("model-symbols")
    await expect(symbols.locator("tr")).to_have_count(3)
    aapl = page.get_by_test_id("model-symbol-AAPL")
    await expect(aapl).to_contain_text("33.4% / 33.0% / 33.3%")
    await expect(aapl).to_contain_text("1.19 / 0.16 / 0.59")
    ibm = page.get_by_test_id("model-symbol-IBM")
    await expect(ibm).to_contain_text("2002-12-12 .. 2013-02-22")
    tab.problems.assert_none()
