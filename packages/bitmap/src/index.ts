// Public API of @ipam/bitmap: name every export explicitly (no `export *`).
export {};
