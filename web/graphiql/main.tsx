// GraphiQL bundled from npm so that GET /graphql works with no internet access. Queries and
// mutations go over HTTP POST, subscriptions over graphql-ws on the same /graphql endpoint.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/graphiql.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "./page.css";

const endpoint = new URL("/graphql", window.location.href);
const socketEndpoint = new URL(endpoint);
socketEndpoint.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

const fetcher = createGraphiQLFetcher({
  url: endpoint.href,
  subscriptionUrl: socketEndpoint.href,
});

const EXAMPLE = `# StockQL: queries and mutations over HTTP, subscriptions over websockets.
# Signed-in calls need a header: {"Authorization": "Bearer <token>"} (Headers tab below).
{
  latestPrice(symbol: "AAPL") { price change changePercent timestamp }
  symbols
}

# subscription { stockPrice(symbol: "AAPL") { price changePercent sequence } }
`;

const root = document.getElementById("graphiql");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <GraphiQL fetcher={fetcher} defaultQuery={EXAMPLE} shouldPersistHeaders={false} />
    </StrictMode>,
  );
}
