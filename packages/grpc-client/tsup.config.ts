import { defineConfig } from "tsup";

// No `clean` here: the two builds run at once and tsup's declaration step deletes every .d.ts
// of a cleaning build, including the other build's. The build script empties dist first.

export default defineConfig([
  {
    // The main entry is one self-contained file: loading ~100 small ESM modules of
    // @bufbuild/protobuf costs more process-start time than parsing one bundled file.
    entry: ["src/index.ts"],
    // CommonJS too: a short-lived process (the CNI plugin) starts faster without the ESM loader.
    format: ["esm", "cjs"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
    splitting: false,
    treeshake: true,
    noExternal: ["@bufbuild/protobuf", "@ipam/errors"],
  },
  {
    // Every generated message, enum and service descriptor (reflection runtime included).
    entry: ["src/messages.ts"],
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
  },
]);
