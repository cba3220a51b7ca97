// Two pages from one build: the dashboard (index.html, served at /) and GraphiQL
// (graphiql.html, served at GET /graphql). The build goes into the Python package
// (app/web_dist), where the server looks for it in a checkout and in an installed wheel alike;
// hashed files land in app/web_dist/assets/, which the server caches for a year, and the
// pages themselves are never cached.
//
// `npm run dev` serves the pages from source at http://localhost:5173 (GraphiQL at
// /graphiql.html) and passes /graphql, websockets included, to the API at STOCKQL_API_URL
// (default: `stockql serve` on http://127.0.0.1:8000). The Host header is kept, so the API
// sees same-origin websockets.
import { resolve } from "node:path";
import { defineConfig } from "vite";

const api = process.env.STOCKQL_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/",
  server: {
    proxy: {
      "/graphql": { target: api, ws: true },
      "/healthz": { target: api },
    },
  },
  build: {
    outDir: resolve(import.meta.dirname, "../app/web_dist"),
    // Outside the Vite root: without this Vite would only warn and keep stale files.
    emptyOutDir: true,
    assetsDir: "assets",
    // GraphiQL with React is one large chunk by nature; it loads only on /graphql.
    chunkSizeWarningLimit: 2500,
    rollupOptions: {
      onwarn(warning, warn) {
        // GraphiQL's Radix UI modules start with "use client", meant for React server
        // components; it means nothing in a browser bundle.
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
      input: {
        index: resolve(import.meta.dirname, "index.html"),
        graphiql: resolve(import.meta.dirname, "graphiql.html"),
      },
    },
  },
});
