// Public API of @ipam/metrics: name every export explicitly (no `export *`).
export {};
