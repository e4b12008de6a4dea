// Public API of @ipam/ipamd: name every export explicitly (no `export *`).
export type { IpamdConfig, LoadConfigInput, LogFormat, LogLevel, Role } from "./config.js";
export { helpText, loadConfig, OPTIONS, parseHostPort } from "./config.js";
export type { IpamdErrorCode, IpamdErrorOptions } from "./ipamd-error.js";
export { IpamdError } from "./ipamd-error.js";
