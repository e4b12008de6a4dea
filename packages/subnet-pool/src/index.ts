// Public API of @ipam/subnet-pool: name every export explicitly (no `export *`).
export {};
