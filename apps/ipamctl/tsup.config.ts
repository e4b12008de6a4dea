import { defineConfig } from "tsup";

// main.ts is the `ipamctl` executable (hence the shebang, harmless in index.js).
export default defineConfig({
  entry: ["src/index.ts", "src/main.ts"],
  format: ["esm"],
  target: "node20",
  platform: "node",
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  banner: { js: "#!/usr/bin/env node" },
});
