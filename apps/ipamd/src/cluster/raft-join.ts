import { type ClientTlsOptions, type ClusterClient, createClusterClient } from "@ipam/grpc-server";
import type { Logger } from "pino";
import { IpamdError, type IpamdErrorCode } from "../ipamd-error.js";

/** Codes after which a join step (AddLearner, AddVoter) is tried again. */
const RETRY: ReadonlySet<string> = new Set([
  "CONFLICT",
  "UNAVAILABLE",
  "NOT_LEADER",
  "TIMEOUT",
  "SHUTTING_DOWN",
]);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Options of {@link RaftJoin}. */
export interface RaftJoinOptions {
  readonly nodeId: string;
  /** `--join`: servers of the group, any of which answers (followers forward to the leader). */
  readonly servers: readonly string[];
  readonly tls?: ClientTlsOptions;
  /** How long a whole join may take; default 120 s. */
  readonly timeoutMs?: number;
  /** The Raft election timeout, ms (AddVoter may wait 4 of them for the catch-up). */
  readonly electionMs: number;
  readonly log: Logger;
  /** True once the server is stopping: every step then fails SHUTTING_DOWN. */
  readonly stopped: () => boolean;
}

/**
 * The steps of joining an existing Raft group through the `--join` servers: learn the cluster
 * id and leader, AddLearner(self), AddVoter(self) (a promotion). Each step retries the codes
 * that may pass (another change in progress, no leader, outage) with backoff until
 * {@link deadline}, then fails naming `--join`.
 */
export class RaftJoin {
  readonly #o: RaftJoinOptions;

  constructor(options: RaftJoinOptions) {
    this.#o = options;
  }

  /** When a join that starts now must be done by (ms since the epoch). */
  deadline(): number {
    return Date.now() + (this.#o.timeoutMs ?? 120_000);
  }

  #client(): ClusterClient {
    return createClusterClient({
      addresses: this.#o.servers,
      deadlineMs: 5000,
      maxAttempts: 4,
      electionMs: this.#o.electionMs,
      ...(this.#o.tls === undefined ? {} : { tls: this.#o.tls }),
    });
  }

  #checkStopped(): void {
    if (this.#o.stopped()) throw new IpamdError("SHUTTING_DOWN", "stopped while joining");
  }

  /** Asks the join servers (any of them) for the cluster id and the leader. */
  async askClusterId(): Promise<{ clusterId: string; leaderId: string; leaderAddress: string }> {
    const { servers, log } = this.#o;
    const client = this.#client();
    const until = this.deadline();
    try {
      for (let attempt = 0; ; attempt++) {
        this.#checkStopped();
        try {
          const st = await client.getStatus({});
          if (st.clusterId !== "" && st.leaderId !== "" && st.leaderAddress !== "") {
            return st;
          }
          log.info({ join: servers }, "join: no leader yet, waiting");
        } catch (err) {
          if (Date.now() > until) {
            throw new IpamdError(
              "UNAVAILABLE",
              `--join: no answer from ${servers.join(",")}: ${(err as Error).message}`,
              { cause: err },
            );
          }
          log.info({ err, join: servers }, "join: servers not reachable yet");
        }
        if (Date.now() > until) {
          throw new IpamdError("UNAVAILABLE", `--join: ${servers.join(",")} know no leader`);
        }
        await sleep(Math.min(1000, 100 * 2 ** attempt));
      }
    } finally {
      client.close();
    }
  }

  /**
   * Runs `call` until it succeeds, retrying the {@link RETRY} codes until `until`; then (or on
   * another code) fails with `failure(err)`. `done()` true ends it early (nothing left to do).
   */
  async #retry<T>(
    what: string,
    until: number,
    call: (client: ClusterClient) => Promise<T>,
    failure: (err: unknown, code: string | undefined) => IpamdError,
    done: () => boolean = () => false,
  ): Promise<T | undefined> {
    const client = this.#client();
    try {
      for (let attempt = 0; ; attempt++) {
        this.#checkStopped();
        if (done()) return undefined;
        try {
          return await call(client);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (!RETRY.has(code ?? "") || Date.now() > until) throw failure(err, code);
          this.#o.log.info({ err }, `join: ${what} refused for now, retrying`);
          await sleep(Math.min(1000, 100 * 2 ** attempt));
        }
      }
    } finally {
      client.close();
    }
  }

  /** AddLearner(self, `advertise`); resolves with the Raft index of the configuration entry. */
  async addLearner(advertise: string, until: number): Promise<number> {
    const { nodeId } = this.#o;
    const r = await this.#retry(
      "AddLearner",
      until,
      (c) => c.addLearner({ id: nodeId, address: advertise }),
      (err, code) => {
        const fail: IpamdErrorCode =
          code === "INVALID_ARGUMENT" ? "INVALID_ARGUMENT" : "UNAVAILABLE";
        return new IpamdError(
          fail,
          `--join: AddLearner(${nodeId}, ${advertise}) failed: ${(err as Error).message}`,
          { cause: err },
        );
      },
    );
    return Number(r?.raftIndex ?? 0);
  }

  /** Asks the leader to promote this learner (AddVoter), unless `isVoter()` already. */
  async promote(advertise: string, isVoter: () => boolean, until = this.deadline()): Promise<void> {
    const { nodeId, electionMs } = this.#o;
    await this.#retry(
      "promotion",
      until,
      (c) => c.addVoter({ id: nodeId, address: advertise }, { deadlineMs: 4 * electionMs + 5000 }),
      (err) =>
        new IpamdError(
          "UNAVAILABLE",
          `--join: promotion of ${nodeId} failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        ),
      isVoter,
    );
  }
}
