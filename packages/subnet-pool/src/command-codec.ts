import { type ClusterCommand, COMMAND_TYPES } from "./commands.js";
import { PoolError } from "./pool-error.js";

/** Version byte of the command encoding this build writes (and the only one it reads). */
export const COMMAND_ENCODING_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const TYPES: ReadonlySet<string> = new Set(COMMAND_TYPES);

/**
 * The wire form of a command for the Raft log: one version byte, then the command as UTF-8
 * JSON. Commands are plain data (no bigint, no undefined-valued fields that matter).
 * The returned array is the caller's.
 */
export function encodeCommand(command: ClusterCommand): Uint8Array {
  const body = encoder.encode(JSON.stringify(command));
  const out = new Uint8Array(body.length + 1);
  out[0] = COMMAND_ENCODING_VERSION;
  out.set(body, 1);
  return out;
}

/**
 * Decodes {@link encodeCommand}'s output. Checks the envelope (version, JSON, a known `type`,
 * a finite `at`, batch items recursively); field-level checks happen in `apply`, which answers
 * `INVALID_ARGUMENT` naming the field.
 * @throws PoolError `UNSUPPORTED_VERSION` for another version byte, `INVALID_ENCODING` for
 * anything else that is not an encoded command.
 */
export function decodeCommand(bytes: Uint8Array): ClusterCommand {
  if (bytes.length === 0) throw new PoolError("INVALID_ENCODING", "empty command bytes");
  const version = bytes[0] as number;
  if (version !== COMMAND_ENCODING_VERSION) {
    throw new PoolError(
      "UNSUPPORTED_VERSION",
      `command encoding version ${version} is not supported (this build reads ${COMMAND_ENCODING_VERSION})`,
      { details: { version } },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes.subarray(1)));
  } catch (cause) {
    throw new PoolError("INVALID_ENCODING", "command bytes are not UTF-8 JSON", { cause });
  }
  checkEnvelope(value, "command");
  return value as ClusterCommand;
}

function checkEnvelope(value: unknown, path: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PoolError("INVALID_ENCODING", `${path}: not an object`);
  }
  const record = value as Record<string, unknown>;
  if (typeof record.type !== "string" || !TYPES.has(record.type)) {
    throw new PoolError(
      "INVALID_ENCODING",
      `${path}.type: unknown command type ${String(record.type)}`,
      {
        details: { type: record.type },
      },
    );
  }
  if (typeof record.at !== "number" || !Number.isFinite(record.at)) {
    throw new PoolError("INVALID_ENCODING", `${path}.at: must be a finite number (ms)`);
  }
  if (record.type === "batch") {
    if (!Array.isArray(record.commands)) {
      throw new PoolError("INVALID_ENCODING", `${path}.commands: must be an array`);
    }
    for (const [i, c] of record.commands.entries()) checkEnvelope(c, `${path}.commands[${i}]`);
  }
}
