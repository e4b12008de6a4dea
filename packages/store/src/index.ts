// Public API of @ipam/store: name every export explicitly (no `export *`).
export {};
