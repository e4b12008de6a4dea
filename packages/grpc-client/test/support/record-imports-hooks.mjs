// Loader hooks for record-imports.mjs: report each loaded URL to the main thread.
let port;

export function initialize(data) {
  port = data.port;
  port.on("message", (message) => {
    if (message === "flush") port.postMessage("flushed");
  });
}

export async function load(url, context, nextLoad) {
  port.postMessage(url);
  return nextLoad(url, context);
}
