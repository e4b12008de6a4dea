// Preload (`node --import`) that records the URL of every module the ESM loader loads, so a
// test can assert what a program did NOT load. Read the list with `globalThis.loadedModules()`.
import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";

const { port1, port2 } = new MessageChannel();
const urls = [];
const waiters = [];
port1.on("message", (message) => {
  if (message === "flushed") waiters.shift()?.();
  else urls.push(message);
});
port1.unref();
register("./record-imports-hooks.mjs", import.meta.url, {
  data: { port: port2 },
  transferList: [port2],
});

/** Every module URL loaded so far (CommonJS ones too, from `require.cache`). */
globalThis.loadedModules = async () => {
  // The hooks thread answers in order, so once "flushed" arrives every URL sent before it has.
  port1.ref();
  await new Promise((resolve) => {
    waiters.push(resolve);
    port1.postMessage("flush");
  });
  port1.unref();
  const { createRequire } = await import("node:module");
  const cjs = Object.keys(createRequire(import.meta.url).cache);
  return [...urls, ...cjs];
};
