// Setup file of the process tests of apps/ipamd and apps/ipamctl (vitest.config.ts): after each
// test file, remove the folders its tests made with tempDir(). Registered before the file's own
// hooks, so it runs after them (vitest runs after-hooks in reverse order): the file has stopped
// its daemons and etcd members by then.
import { afterAll } from "vitest";
import { removeTempDirs } from "./processes.js";

afterAll(removeTempDirs);
