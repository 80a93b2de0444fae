import { defineConfig } from "vite";

// A static build served by the REST process at `/` (lago_rest/web.py): hashed files under
// /assets/ are cached for good; index.html is not. No inline scripts, so the Content-Security-Policy
// can say script-src 'self'.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    target: "es2020",
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // react-router marks its modules "use client" for server components, which a static
      // build has none of.
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  server: {
    // Port 3000 is among the origins allowed outside prod (LAGO_ALLOWED_ORIGINS unset).
    port: 3000,
    strictPort: true,
    // `npm run dev` against a running `make run`: the API and media come from the REST process.
    proxy: { "/api": "http://127.0.0.1:8080", "/media": "http://127.0.0.1:8080" },
  },
});
