// A small, faithful stand-in of the Kubernetes API server for the `--kubernetes` tests: there is
// no API server on these machines. It implements only what ipamd's controllers use, the way
// kube-apiserver does it (https://kubernetes.io/docs/reference/using-api/api-concepts/):
//
// - GET /api/v1/nodes, /api/v1/pods, /apis/apps/v1/statefulsets (list): `items` +
//   `metadata.resourceVersion`; `fieldSelector` `metadata.name=X` (nodes) and `spec.nodeName=X`
//   (pods).
// - the same with `watch=true&resourceVersion=RV`: a chunked stream of JSON lines
//   `{type, object}` for every change after RV that matches the selector; with
//   `allowWatchBookmarks=true`, BOOKMARK events carrying the current version; an RV older than
//   the compaction point gets an `ERROR` event with a `Status` of code 410 (Gone) and the stream
//   ends, as the real server does.
// - GET /api/v1/nodes/NAME, /api/v1/namespaces/NS/pods/NAME, /api/v1/namespaces/NS,
//   /apis/apps/v1/namespaces/NS/statefulsets/NAME: the object or 404 with a `Status` body;
//   POST /api/v1/namespaces/NS/events: kept in `events`.
// - StatefulSets are objects only (`putStatefulSet`: spec.replicas); no controller creates their
//   pods: a test creates them with `createPod(..., { statefulSet })`, which sets the pod's
//   controller ownerReference as the StatefulSet controller does.
// - Every write bumps one global resourceVersion; a pod deleted and created again under the same
//   name gets a new UID (as a StatefulSet's pod does).
//
// Faults a test can inject: drop every open watch (`dropWatches`), compact history so a resumed
// watch gets 410 (`compact`), fail the next N requests of a path with a status (`failNext`),
// answer slowly (`delayMs`), hold the open watches of a kind silently open (`silence`: no
// events, no bookmarks, the connection kept: a hung watch behind a proxy), and hide objects from lists and watches while GET still returns
// them (`hide`: a cache that missed an object, e.g. a watch that is behind).
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";

type Kind = "nodes" | "pods" | "namespaces" | "statefulsets";

interface Obj {
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
}

interface Change {
  readonly rv: number;
  readonly kind: Kind;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: Obj;
}

interface Watcher {
  readonly kind: Kind;
  readonly matches: (o: Obj) => boolean;
  readonly res: ServerResponse;
  /** Kept open but sent nothing more (`silence`). */
  silent: boolean;
}

const keyOf = (o: { metadata: { namespace?: string; name: string } }) =>
  `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** The stand-in; {@link startKubeStandIn} starts one on 127.0.0.1. */
export class KubeStandIn {
  readonly server: Server;
  #rv = 1;
  #compactedAt = 0;
  readonly #objects: Record<Kind, Map<string, Obj>> = {
    nodes: new Map(),
    pods: new Map(),
    namespaces: new Map(),
    statefulsets: new Map(),
  };
  readonly #history: Change[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #failures: Array<{ path: RegExp; status: number; left: number }> = [];
  readonly #hidden = new Set<string>();
  /** Events ipamd recorded (POST .../events bodies). */
  readonly events: Array<Record<string, unknown>> = [];
  /** Requests seen, as `METHOD path?query`. */
  readonly requests: string[] = [];
  /** Delay before each answer, ms. */
  delayMs = 0;
  #bookmarks: NodeJS.Timeout;

  constructor() {
    this.server = createServer((req, res) => void this.#handle(req, res));
    this.#bookmarks = setInterval(() => this.#bookmark(), 500);
    this.#bookmarks.unref();
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  /** Writes a kubeconfig pointing at this stand-in into `dir`; returns its path. */
  kubeconfig(dir: string): string {
    const path = join(dir, "kubeconfig.yaml");
    writeFileSync(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: stand-in",
        "  cluster:",
        `    server: http://127.0.0.1:${this.port}`,
        // Plain HTTP on loopback: the client allows it only with TLS checks off.
        "    insecure-skip-tls-verify: true",
        "users:",
        "- name: ipamd",
        "  user:",
        "    token: stand-in-token",
        "contexts:",
        "- name: stand-in",
        "  context: {cluster: stand-in, user: ipamd}",
        "current-context: stand-in",
        "",
      ].join("\n"),
    );
    return path;
  }

  // --- objects -------------------------------------------------------------------------------

  /** Creates or replaces a Node (Ready unless `ready` is false). */
  putNode(name: string, labels: Record<string, string>, ready = true, readySince?: Date): Obj {
    const old = this.#objects.nodes.get(`/${name}`);
    return this.#put("nodes", {
      metadata: {
        name,
        uid: old?.metadata.uid ?? randomUUID(),
        resourceVersion: "",
        labels,
        creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString(),
      },
      status: {
        conditions: [
          {
            type: "Ready",
            status: ready ? "True" : "False",
            lastTransitionTime: (readySince ?? new Date()).toISOString(),
          },
        ],
      },
    });
  }

  deleteNode(name: string): void {
    this.#delete("nodes", `/${name}`);
  }

  /**
   * Creates a Pod on `node` (a new UID every time); returns the UID. With `statefulSet`, the pod
   * is that StatefulSet's (its controller ownerReference), which must exist.
   */
  createPod(
    namespace: string,
    name: string,
    node: string,
    annotations: Record<string, string> = {},
    options: { readonly statefulSet?: string } = {},
  ): string {
    if (this.#objects.pods.has(`${namespace}/${name}`)) {
      throw new Error(`pod ${namespace}/${name} exists (409 AlreadyExists)`);
    }
    if (!this.#objects.namespaces.has(`/${namespace}`)) this.putNamespace(namespace, {});
    const uid = randomUUID();
    let owner: Record<string, unknown> | undefined;
    if (options.statefulSet !== undefined) {
      const sts = this.#objects.statefulsets.get(`${namespace}/${options.statefulSet}`);
      if (sts === undefined)
        throw new Error(`statefulset ${namespace}/${options.statefulSet} (404)`);
      owner = {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        name: options.statefulSet,
        uid: sts.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      };
    }
    this.#put("pods", {
      metadata: {
        name,
        namespace,
        uid,
        resourceVersion: "",
        annotations,
        creationTimestamp: new Date().toISOString(),
        ...(owner === undefined ? {} : { ownerReferences: [owner] }),
      },
      spec: { nodeName: node },
      status: { phase: "Running" },
    });
    return uid;
  }

  deletePod(namespace: string, name: string): void {
    this.#delete("pods", `${namespace}/${name}`);
  }

  /** Creates or scales a StatefulSet (`spec.replicas`). */
  putStatefulSet(namespace: string, name: string, replicas: number): void {
    const old = this.#objects.statefulsets.get(`${namespace}/${name}`);
    this.#put("statefulsets", {
      metadata: {
        name,
        namespace,
        uid: old?.metadata.uid ?? randomUUID(),
        resourceVersion: "",
        creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString(),
      },
      spec: { replicas, serviceName: name, selector: { matchLabels: { app: name } } },
    });
  }

  deleteStatefulSet(namespace: string, name: string): void {
    this.#delete("statefulsets", `${namespace}/${name}`);
  }

  putNamespace(name: string, annotations: Record<string, string>): void {
    const old = this.#objects.namespaces.get(`/${name}`);
    this.#put("namespaces", {
      metadata: {
        name,
        uid: old?.metadata.uid ?? randomUUID(),
        resourceVersion: "",
        annotations,
        creationTimestamp: new Date().toISOString(),
      },
    });
  }

  // --- faults --------------------------------------------------------------------------------

  /** Ends every open watch stream (the clients see the connection close). */
  dropWatches(): void {
    for (const w of this.#watchers) w.res.destroy();
    this.#watchers.clear();
  }

  /**
   * Every watch of `kind` open now stays open but is sent nothing more (no events, no
   * bookmarks); watches opened later are served normally. Returns how many were silenced.
   */
  silence(kind: Kind): number {
    let n = 0;
    for (const w of this.#watchers) {
      if (w.kind === kind && !w.silent) {
        w.silent = true;
        n++;
      }
    }
    return n;
  }

  /** Forgets the history: a watch resumed from an older version gets 410 Gone. */
  compact(): void {
    this.#compactedAt = this.#rv;
    this.#history.length = 0;
  }

  /** The next `count` requests whose path matches fail with `status`. */
  failNext(path: RegExp, status: number, count: number): void {
    this.#failures.push({ path, status, left: count });
  }

  /** Lists and watches leave `kind` `namespace/name` out (GET still returns it). */
  hide(kind: Kind, namespace: string, name: string): void {
    this.#hidden.add(`${kind}:${namespace}/${name}`);
  }

  close(): Promise<void> {
    clearInterval(this.#bookmarks);
    this.dropWatches();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // --- internals -----------------------------------------------------------------------------

  #put(kind: Kind, obj: Obj): Obj {
    const key = keyOf(obj);
    const existed = this.#objects[kind].has(key);
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#objects[kind].set(key, obj);
    this.#publish({ rv: this.#rv, kind, type: existed ? "MODIFIED" : "ADDED", object: obj });
    return obj;
  }

  #delete(kind: Kind, key: string): void {
    const obj = this.#objects[kind].get(key);
    if (obj === undefined) return;
    this.#objects[kind].delete(key);
    const gone = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) } };
    this.#publish({ rv: this.#rv, kind, type: "DELETED", object: gone });
  }

  #visible(kind: Kind, o: Obj): boolean {
    return !this.#hidden.has(`${kind}:${keyOf(o)}`);
  }

  #publish(c: Change): void {
    this.#history.push(c);
    for (const w of this.#watchers) {
      if (
        !w.silent &&
        w.kind === c.kind &&
        w.matches(c.object) &&
        this.#visible(c.kind, c.object)
      ) {
        w.res.write(`${JSON.stringify({ type: c.type, object: c.object })}\n`);
      }
    }
  }

  #bookmark(): void {
    for (const w of this.#watchers) {
      if (w.silent) continue;
      const bookmark = { kind: "Bookmark", metadata: { resourceVersion: String(this.#rv) } };
      w.res.write(`${JSON.stringify({ type: "BOOKMARK", object: bookmark })}\n`);
    }
  }

  #status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message,
        reason,
        code,
      }),
    );
  }

  #selector(kind: Kind, fieldSelector: string | null): (o: Obj) => boolean {
    if (fieldSelector === null || fieldSelector === "") return () => true;
    const [field, value] = fieldSelector.split("=");
    if (kind === "nodes" && field === "metadata.name") return (o) => o.metadata.name === value;
    if (kind === "pods" && field === "spec.nodeName") return (o) => o.spec?.nodeName === value;
    throw new Error(`field selector ${fieldSelector} not supported by the stand-in`);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const failure = this.#failures.find((f) => f.left > 0 && f.path.test(url.pathname));
    if (failure !== undefined) {
      failure.left--;
      this.#status(res, failure.status, "InternalError", "injected failure");
      return;
    }
    const p = url.pathname.split("/").filter((s) => s !== "");
    // p: api v1 ... | apis apps v1 ...
    if (p[0] === "apis" && p[1] === "apps" && p[2] === "v1" && req.method === "GET") {
      return this.#apps(p.slice(3), url, res);
    }
    if (p[0] !== "api" || p[1] !== "v1") return this.#status(res, 404, "NotFound", "no such path");
    const rest = p.slice(2);
    if (
      req.method === "POST" &&
      rest.length === 3 &&
      rest[0] === "namespaces" &&
      rest[2] === "events"
    ) {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      this.events.push(body);
      res.writeHead(201, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          ...body,
          metadata: { name: `e${this.events.length}`, namespace: rest[1] },
        }),
      );
      return;
    }
    if (req.method !== "GET")
      return this.#status(res, 405, "MethodNotAllowed", "read-only stand-in");
    if (rest.length === 1 && (rest[0] === "nodes" || rest[0] === "pods")) {
      const kind = rest[0] as Kind;
      const matches = this.#selector(kind, url.searchParams.get("fieldSelector"));
      if (url.searchParams.get("watch") === "true") return this.#watch(kind, matches, url, res);
      const items = [...this.#objects[kind].values()].filter(
        (o) => matches(o) && this.#visible(kind, o),
      );
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: kind === "nodes" ? "NodeList" : "PodList",
          apiVersion: "v1",
          metadata: { resourceVersion: String(this.#rv) },
          items,
        }),
      );
      return;
    }
    let found: Obj | undefined;
    if (rest.length === 2 && rest[0] === "nodes") found = this.#objects.nodes.get(`/${rest[1]}`);
    else if (rest.length === 2 && rest[0] === "namespaces")
      found = this.#objects.namespaces.get(`/${rest[1]}`);
    else if (rest.length === 4 && rest[0] === "namespaces" && rest[2] === "pods") {
      found = this.#objects.pods.get(`${rest[1]}/${rest[3]}`);
    } else return this.#status(res, 404, "NotFound", `no such path ${url.pathname}`);
    if (found === undefined) return this.#status(res, 404, "NotFound", `${url.pathname} not found`);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(found));
  }

  /** GET under /apis/apps/v1: StatefulSets (list, watch, read). */
  #apps(rest: string[], url: URL, res: ServerResponse): void {
    if (rest.length === 1 && rest[0] === "statefulsets") {
      const matches = this.#selector("statefulsets", url.searchParams.get("fieldSelector"));
      if (url.searchParams.get("watch") === "true") {
        this.#watch("statefulsets", matches, url, res);
        return;
      }
      const items = [...this.#objects.statefulsets.values()].filter(
        (o) => matches(o) && this.#visible("statefulsets", o),
      );
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "StatefulSetList",
          apiVersion: "apps/v1",
          metadata: { resourceVersion: String(this.#rv) },
          items: items.map((o) => ({ apiVersion: "apps/v1", kind: "StatefulSet", ...o })),
        }),
      );
      return;
    }
    if (rest.length === 4 && rest[0] === "namespaces" && rest[2] === "statefulsets") {
      const found = this.#objects.statefulsets.get(`${rest[1]}/${rest[3]}`);
      if (found === undefined) {
        this.#status(res, 404, "NotFound", `${url.pathname} not found`);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ apiVersion: "apps/v1", kind: "StatefulSet", ...found }));
      return;
    }
    this.#status(res, 404, "NotFound", `no such path ${url.pathname}`);
  }

  #watch(kind: Kind, matches: (o: Obj) => boolean, url: URL, res: ServerResponse): void {
    const from = Number(url.searchParams.get("resourceVersion") ?? "0");
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    if (from !== 0 && from < this.#compactedAt) {
      const status = {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "Expired",
        code: 410,
        message: `too old resource version: ${from} (${this.#compactedAt})`,
      };
      res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
      return;
    }
    for (const c of this.#history) {
      if (c.rv > from && c.kind === kind && matches(c.object) && this.#visible(kind, c.object)) {
        res.write(`${JSON.stringify({ type: c.type, object: c.object })}\n`);
      }
    }
    const w: Watcher = { kind, matches, res, silent: false };
    this.#watchers.add(w);
    res.on("close", () => this.#watchers.delete(w));
  }
}

/** Starts a stand-in on 127.0.0.1 (its own listening socket, kept open until `close`). */
export async function startKubeStandIn(): Promise<KubeStandIn> {
  const s = new KubeStandIn();
  await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
  return s;
}
