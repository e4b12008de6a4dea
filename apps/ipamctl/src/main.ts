import { processIo } from "./io.js";
import { runIpamctl } from "./run.js";

// The `ipamctl` executable: run the command, end with its exit status.
runIpamctl(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ipamctl: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
