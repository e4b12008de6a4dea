import type { Logger } from "pino";
import type { KubeApi, KubeApiError, KubeKind, KubeSelector, KubeWatchEvent } from "./kube-api.js";

/** An object the reflector keeps: what it needs of `metadata`. */
export interface KubeObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
  };
}

/**
 * Why a watch was started again (the `reason` of `ipamd_k8s_watch_restarts_total`): `closed` by
 * the server, `gone` (410, listed again), `error`, or `idle` (the watchdog: no event and no
 * bookmark for the idle limit, listed again).
 */
export type RestartReason = "closed" | "gone" | "error" | "idle";

/** What the reflector tells its owner. */
export interface ReflectorHooks<T> {
  /** An object appeared or changed (`old` is the previous copy, if any). */
  readonly onUpsert?: (obj: T, old: T | undefined) => void;
  /** An object was deleted (or is missing from a re-list). */
  readonly onDelete?: (obj: T) => void;
  /** After each complete list (the cache then holds exactly what the API listed). */
  readonly onSynced?: () => void;
  readonly onRestart?: (reason: RestartReason) => void;
  /** A list or watch failed (it is retried). */
  readonly onError?: (err: unknown) => void;
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

/**
 * A list + watch cache of one kind (client-go's reflector, small): lists, then watches from the
 * list's resourceVersion with bookmarks; a watch the server closes is resumed from the last
 * version seen; `410 Gone` (an ERROR event or status) lists again and reports what vanished
 * meanwhile as deletes; other failures retry with a capped backoff (0.5 s doubling to 30 s).
 * A watch that delivers neither an event nor a bookmark for `idleMs` (a connection a proxy or a
 * stuck API server holds open silently) is abandoned and the kind listed again (the watchdog;
 * bookmarks, which the reflector asks for, keep a healthy but quiet watch alive).
 * The cache may be behind the API at any moment: callers that free something confirm with a
 * fresh read ({@link KubeApi.readPod}), never from here alone.
 */
export class KubeReflector<T extends KubeObject> {
  readonly #api: KubeApi;
  readonly #kind: KubeKind;
  readonly #sel: KubeSelector;
  readonly #hooks: ReflectorHooks<T>;
  readonly #log: Logger;
  readonly #idleMs: number;
  readonly #objects = new Map<string, T>();
  #version = "";
  #relist = true;
  #stopped = false;
  #synced = false;
  #abort: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  /** The running watch's watchdog (rearmed by every event and bookmark). */
  #idle: NodeJS.Timeout | undefined;

  constructor(
    api: KubeApi,
    kind: KubeKind,
    sel: KubeSelector,
    hooks: ReflectorHooks<T>,
    log: Logger,
    idleMs = 300_000,
  ) {
    this.#api = api;
    this.#kind = kind;
    this.#sel = sel;
    this.#hooks = hooks;
    this.#log = log;
    this.#idleMs = idleMs;
  }

  /** True once a first list completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The cached objects (a new array; the objects are the cache's: do not mutate). */
  list(): T[] {
    return [...this.#objects.values()];
  }

  /** The cached object `namespace/name` (namespace "" for cluster-scoped kinds). */
  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  /** Starts listing and watching in the background. */
  start(): void {
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#idle);
    this.#abort?.();
    this.#abort = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), ms);
    this.#timer.unref();
  }

  #retry(reason: RestartReason, err: unknown): void {
    this.#failures++;
    this.#hooks.onError?.(err);
    const ms = Math.min(30_000, 500 * 2 ** Math.min(this.#failures - 1, 6));
    this.#log.warn({ err, kind: this.#kind, retryMs: ms }, `Kubernetes ${this.#kind} watch failed`);
    this.#hooks.onRestart?.(reason);
    this.#schedule(ms);
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    if (this.#relist) {
      try {
        const answer = (await this.#api.list(this.#kind as "pods", this.#sel)) as unknown as {
          items: readonly T[];
          resourceVersion: string;
        };
        if (this.#stopped) return;
        this.#replace(answer.items);
        this.#version = answer.resourceVersion;
        this.#relist = false;
        this.#synced = true;
        this.#failures = 0;
        this.#hooks.onSynced?.();
      } catch (err) {
        this.#retry("error", err);
        return;
      }
    }
    let doneCalled = false;
    const onDone = (err: KubeApiError | undefined) => {
      if (doneCalled) return;
      doneCalled = true;
      clearTimeout(this.#idle);
      this.#abort = undefined;
      if (this.#stopped) return;
      if (err?.status === 410 || this.#relist) {
        this.#relist = true;
        this.#log.info(
          { kind: this.#kind },
          `Kubernetes ${this.#kind}: resourceVersion too old, listing again`,
        );
        this.#hooks.onRestart?.("gone");
        this.#schedule(0);
      } else if (err !== undefined) {
        this.#retry("error", err);
      } else {
        this.#hooks.onRestart?.("closed");
        this.#schedule(0);
      }
    };
    // The watchdog: this watch is abandoned (its late end ignored) and the kind listed again.
    const onIdle = () => {
      if (doneCalled || this.#stopped) return;
      doneCalled = true;
      const abort = this.#abort;
      this.#abort = undefined;
      abort?.();
      this.#relist = true;
      this.#log.warn(
        { kind: this.#kind, idleMs: this.#idleMs },
        `Kubernetes ${this.#kind} watch silent for ${this.#idleMs / 1000} s (no event, no bookmark): listing again`,
      );
      this.#hooks.onRestart?.("idle");
      this.#schedule(0);
    };
    const arm = () => {
      clearTimeout(this.#idle);
      if (doneCalled || this.#stopped) return;
      this.#idle = setTimeout(onIdle, this.#idleMs);
      this.#idle.unref();
    };
    arm();
    try {
      const abort = await this.#api.watch(
        this.#kind,
        this.#sel,
        this.#version,
        (e) => {
          if (doneCalled) return;
          arm();
          this.#event(e);
        },
        onDone,
      );
      if (this.#stopped || doneCalled) abort();
      else this.#abort = abort;
    } catch (err) {
      if (!doneCalled) {
        doneCalled = true;
        clearTimeout(this.#idle);
        this.#retry("error", err);
      }
    }
  }

  #event(e: KubeWatchEvent): void {
    if (this.#stopped) return;
    if (e.type === "ERROR") {
      // A Status object: 410 means our version is gone from the API's watch cache.
      if (e.object.code === 410) this.#relist = true;
      this.#abort?.();
      return;
    }
    this.#failures = 0;
    const version = e.object.metadata?.resourceVersion;
    if (version !== undefined && version !== "") this.#version = version;
    if (e.type === "BOOKMARK") return;
    const obj = e.object as T;
    const key = keyOf(obj);
    const old = this.#objects.get(key);
    if (e.type === "DELETED") {
      if (old !== undefined) {
        this.#objects.delete(key);
        this.#hooks.onDelete?.(obj);
      }
      return;
    }
    this.#objects.set(key, obj);
    this.#hooks.onUpsert?.(obj, old);
  }

  #replace(items: readonly T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.#objects.get(key);
      this.#objects.set(key, obj);
      if (old?.metadata?.resourceVersion !== obj.metadata?.resourceVersion || old === undefined) {
        this.#hooks.onUpsert?.(obj, old);
      }
    }
    for (const [key, obj] of [...this.#objects]) {
      if (seen.has(key)) continue;
      this.#objects.delete(key);
      this.#hooks.onDelete?.(obj);
    }
  }
}
