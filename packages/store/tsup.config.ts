import { defineConfig } from "tsup";

export default defineConfig({
  // commit-worker: the commit thread's entry, loaded by path (`new Worker`), never imported.
  entry: ["src/index.ts", "src/testing.ts", "src/commit-worker.ts"],
  format: ["esm"],
  target: "node20",
  platform: "node",
  dts: true,
  sourcemap: true,
  clean: true,
});
