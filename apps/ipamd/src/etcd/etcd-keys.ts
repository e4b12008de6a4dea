const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The UTF-8 bytes of a key or value. The array is the caller's. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A key or value as text (UTF-8). */
export function text(value: Uint8Array): string {
  return decoder.decode(value);
}

/**
 * The end of the range of every key that starts with `prefix` (etcd's `range_end` for a
 * prefix): the prefix with its last byte below 0xff incremented and what follows dropped.
 * `\0` (every key) when the prefix is all 0xff bytes.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

/**
 * The keys ipamd writes under one cluster's prefix (`--etcd-prefix`, no trailing slash). Every
 * key of the cluster starts with `<prefix>/`, so one etcd role granting that range is enough.
 */
export class EtcdKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix.replace(/\/+$/, "");
  }

  /** `<prefix>/log/`: one key per command (`<prefix>/log/<command id>`), ordered by revision. */
  get log(): string {
    return `${this.prefix}/log/`;
  }

  logEntry(id: string): string {
    return `${this.log}${id}`;
  }

  /** `<prefix>/head`: written with every command; its mod revision is the log's head. */
  get head(): string {
    return `${this.prefix}/head`;
  }

  /** `<prefix>/snapshot/meta`: which snapshot is current (JSON). */
  get snapshotMeta(): string {
    return `${this.prefix}/snapshot/meta`;
  }

  /** `<prefix>/snapshot/data/<id>/`: the chunks of one snapshot. */
  snapshotData(id: string): string {
    return `${this.prefix}/snapshot/data/${id}/`;
  }

  snapshotChunk(id: string, index: number): string {
    return `${this.snapshotData(id)}${String(index).padStart(6, "0")}`;
  }

  /** `<prefix>/snapshot/data/`: every snapshot's chunks. */
  get snapshotDataAll(): string {
    return `${this.prefix}/snapshot/data/`;
  }

  /** `<prefix>/layout`: the version of this key layout (checked by every server at start). */
  get layout(): string {
    return `${this.prefix}/layout`;
  }

  /** `<prefix>/cluster-id`: the cluster id (a UUID written once by the first server). */
  get clusterId(): string {
    return `${this.prefix}/cluster-id`;
  }

  /** `<prefix>/controller`: the server that runs the run-once tasks (bound to its lease). */
  get controller(): string {
    return `${this.prefix}/controller`;
  }

  /** `<prefix>/servers/<id>`: one key per live server (bound to its lease): its address. */
  get servers(): string {
    return `${this.prefix}/servers/`;
  }

  server(id: string): string {
    return `${this.servers}${id}`;
  }
}
