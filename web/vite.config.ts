// Two pages from one build: the dashboard (index.html, served at /) and GraphiQL
// (graphiql.html, served at GET /graphql). Hashed files land in dist/assets/, which the
// server caches for a year; the pages themselves are never cached.
import { resolve } from "node:path";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
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
