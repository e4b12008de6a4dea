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
    // The executable (main.cjs, the launcher) and the plugin it runs through a V8 code cache
    // (plugin.cjs), each one self-contained file (the lean client bundled into the plugin): every
    // module resolved and loaded at start is paid for on each pod interface.
    // CommonJS: Node loads a CommonJS entry a few ms faster than an ES module (no ESM loader).
    // install-cni.cjs: the installer the agent's init container runs (node built-ins only too).
    entry: {
      main: "src/launcher.ts",
      plugin: "src/main.ts",
      "install-cni": "src/installer-main.ts",
    },
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
    noExternal: ["@ipam/grpc-client", "@ipam/errors"],
  },
]);
