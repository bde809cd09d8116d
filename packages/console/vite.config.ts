import react from "@vitejs/plugin-react"
import { defaultClientConditions, defineConfig } from "vite"

export default defineConfig({
  plugins: [react()],
  // The server's API definitions as sources (the workspace's "@redrive/source" export condition).
  resolve: { conditions: ["@redrive/source", ...defaultClientConditions] },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 2048 },
  // `pnpm dev` proxies the API to a server on :8080.
  server: { proxy: { "/v1": "http://127.0.0.1:8080" } }
})
