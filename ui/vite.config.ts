import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The console is served by the Airfoil server from its package's static folder.
export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "../src/airfoil/server/static",
    emptyOutDir: true,
    // the graph layout library (elkjs, ~1.5 MB) is its own chunk, loaded only for compound graphs
    chunkSizeWarningLimit: 1600,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
});
