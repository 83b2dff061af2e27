import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The console is served by the Airfoil server from its package's static folder.
export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "../src/airfoil/server/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
});
