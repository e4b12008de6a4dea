import { defineConfig } from "tsup";

// No `clean` here: the two builds run at once and one's clean could delete the other's output.
// The build script empties dist first.

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
  },
  {
    // The executable is one self-contained file (the lean client bundled in): every module
    // resolved and loaded at start is paid for on each pod interface.
    // CommonJS: Node loads a CommonJS entry a few ms faster than an ES module (no ESM loader).
    entry: { main: "src/main.ts" },
    format: ["cjs"],
    outExtension: () => ({ js: ".cjs" }),
    target: "node20",
    platform: "node",
    sourcemap: false,
    // Half the bytes for V8 to scan at every start (~1 ms of ~70); the plugin never prints a
    // stack trace on stdout, and its debug log names the failing step, not a minified frame.
    minify: true,
    splitting: false,
    treeshake: true,
    noExternal: ["@ipam/grpc-server"],
  },
]);
