// Public API of @ipam/raft: name every export explicitly (no `export *`).
export {};
