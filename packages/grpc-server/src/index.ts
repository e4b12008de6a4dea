// Public API of @ipam/grpc-server: name every export explicitly (no `export *`).
export {};
