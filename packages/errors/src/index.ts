export { ERROR_KINDS, type ErrorKind, isErrorKind } from "./error-kind.js";
export {
  IpamError,
  type IpamErrorKindOptions,
  type IpamErrorOptions,
  isIpamError,
} from "./ipam-error.js";
