import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts", "src/testing/index.ts"],
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
    clean: true,
  },
  {
    // The lean entry is one self-contained file: loading ~100 small ESM modules of
    // @bufbuild/protobuf costs more process-start time than parsing one bundled file.
    entry: ["src/lean.ts"],
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
    splitting: false,
    treeshake: true,
    noExternal: ["@bufbuild/protobuf"],
  },
]);
