import { defineConfig } from "tsup";

// No `clean` here: the two builds run at once and tsup's declaration step deletes every .d.ts
// of a cleaning build, including the other build's. The build script empties dist first.

export default defineConfig([
  {
    // `raft` is its own entry: only it imports @ipam/raft (an optional peer dependency).
    entry: ["src/index.ts", "src/raft.ts", "src/testing/index.ts"],
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
  },
  {
    // Deprecated `@ipam/grpc-server/lean`: a re-export of @ipam/grpc-client (kept external, so
    // one copy of the lean client is loaded), ES module and CommonJS as before.
    entry: ["src/lean.ts"],
    format: ["esm", "cjs"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
    splitting: false,
  },
]);
