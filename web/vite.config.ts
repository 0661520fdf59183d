import { defineConfig } from 'vite'

// The console builds into dist/, which is committed and embedded in the Go
// binary; content-hashed names keep two builds of the same source identical.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npx vite` against `make run`: the API, services and git on the platform.
    fs: { allow: ['..'] },
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
      '/s/': 'http://127.0.0.1:8080',
    },
  },
})
