// Public API of @ipam/ipamd: name every export explicitly (no `export *`).
export {};
