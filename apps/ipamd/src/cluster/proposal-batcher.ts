import type { ClusterCommand, CommandResult } from "@ipam/subnet-pool";
import { IpamdError } from "../ipamd-error.js";

/**
 * The allocation commands that may share one log entry with other callers' commands. Each of
 * them answers the same alone and as an item of a non-atomic `batch` (the state machine runs
 * every item on its own, in order, with its own `at`); the others (topology, membership, node
 * registration) keep an entry of their own.
 */
const SHAREABLE: ReadonlySet<string> = new Set([
  "allocate-direct",
  "release-direct",
  "lease-block",
  "release-block",
]);

/** Default most commands in one shared entry. */
const DEFAULT_MAX_COMMANDS = 256;

/** How many commands `command` puts in a shared entry, or 0 when it must go alone. */
function shareableSize(command: ClusterCommand): number {
  if (SHAREABLE.has(command.type)) return 1;
  if (
    command.type === "batch" &&
    command.atomic !== true &&
    Array.isArray(command.commands) &&
    command.commands.length > 0 &&
    command.commands.every((c) => SHAREABLE.has(c.type))
  ) {
    return command.commands.length;
  }
  return 0;
}

interface Waiting {
  readonly command: ClusterCommand;
  readonly size: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Options of {@link ProposalBatcher}. */
export interface ProposalBatcherOptions {
  /** Proposes `command` as one log entry; resolves once it is applied here (see ClusterLog). */
  readonly propose: (command: ClusterCommand) => Promise<CommandResult>;
  /** Runs `flush` after the current event-loop turn; default `setImmediate`. */
  readonly schedule?: (flush: () => void) => void;
  /** Most commands in one shared entry; default 256. */
  readonly maxCommands?: number;
}

/**
 * Coalesces the allocation commands proposed in one event-loop turn (concurrent LeaseBlock /
 * AllocateDirect / release calls of many clients) into ONE non-atomic `batch` log entry, so that
 * the log carries, persists, replicates and applies one entry where it carried many; every
 * caller still gets exactly its own result, after the entry is committed and applied (the
 * ClusterLog contract is unchanged). A command that is alone in its turn, an atomic batch, or a
 * command outside {@link SHAREABLE} is proposed as it is.
 *
 * Results: a single command's is the batch's item at its place; a caller's non-atomic batch gets
 * `{ ok: true, value: [its items' results] }`, as if proposed alone. When the shared entry
 * fails to commit (not leader, timeout, shutting down), every caller in it gets that error:
 * the same outcome each would have had alone.
 */
export class ProposalBatcher {
  readonly #propose: (command: ClusterCommand) => Promise<CommandResult>;
  readonly #schedule: (flush: () => void) => void;
  readonly #max: number;
  #waiting: Waiting[] = [];

  constructor(options: ProposalBatcherOptions) {
    this.#propose = options.propose;
    this.#schedule = options.schedule ?? ((flush) => setImmediate(flush));
    this.#max = options.maxCommands ?? DEFAULT_MAX_COMMANDS;
  }

  /** Proposes `command` (possibly sharing an entry); resolves with its own result. */
  submit(command: ClusterCommand): Promise<CommandResult> {
    const size = shareableSize(command);
    if (size === 0 || size >= this.#max) return this.#propose(command);
    return new Promise((resolve, reject) => {
      if (this.#waiting.length === 0) this.#schedule(() => this.#flush());
      this.#waiting.push({ command, size, resolve, reject });
    });
  }

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    let group: Waiting[] = [];
    let commands = 0;
    for (const w of waiting) {
      if (commands + w.size > this.#max) {
        this.#proposeGroup(group);
        group = [];
        commands = 0;
      }
      group.push(w);
      commands += w.size;
    }
    if (group.length > 0) this.#proposeGroup(group);
  }

  #proposeGroup(group: readonly Waiting[]): void {
    const [only] = group;
    if (only !== undefined && group.length === 1) {
      this.#propose(only.command).then(only.resolve, only.reject);
      return;
    }
    const commands: ClusterCommand[] = [];
    let at = 0;
    for (const w of group) {
      at = Math.max(at, w.command.at);
      if (w.command.type === "batch") commands.push(...w.command.commands);
      else commands.push(w.command);
    }
    this.#propose({ type: "batch", at, commands }).then(
      (result) => {
        if (!result.ok || !Array.isArray(result.value)) {
          // A non-atomic batch of valid items always succeeds; anything else is every caller's.
          for (const w of group) w.resolve(result);
          return;
        }
        const items = result.value as readonly CommandResult[];
        let i = 0;
        for (const w of group) {
          if (w.command.type === "batch") {
            w.resolve({ ok: true, value: items.slice(i, i + w.size) } as CommandResult);
          } else {
            const own = items[i];
            if (own === undefined)
              w.reject(new IpamdError("INTERNAL", "batch result is missing an item"));
            else w.resolve(own);
          }
          i += w.size;
        }
      },
      (error: unknown) => {
        for (const w of group) w.reject(error);
      },
    );
  }
}
