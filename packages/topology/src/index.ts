// Public API of @ipam/topology: name every export explicitly (no `export *`).
export {};
