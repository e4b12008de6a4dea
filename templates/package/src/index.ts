// Public API of @ipam/__NAME__: name every export explicitly (no `export *`).
export {};
