// Public API of @ipam/cni: name every export explicitly (no `export *`).
export {};
