// Every overlay renders with `kubectl kustomize`, every object is valid against the Kubernetes
// schemas, and what a cluster administrator checks before applying holds: least-privilege RBAC,
// an agent that runs on every node with the node's network and installs the plugin, probes on
// /readyz, pinned images, a server set that can form and keep a quorum, TLS names that match.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import {
  DEPLOY,
  type K8sObject,
  OVERLAYS,
  type Overlay,
  render,
  renderOverlay,
  schemaProblems,
  typeProblems,
} from "./render.js";

const NAMESPACE = "ipamd-system";
const INSTALLER = join(DEPLOY, "../apps/cni/dist/install-cni.cjs");

// The shapes these tests read (the schemas and types above vouch for the rest).
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Volume {
  name: string;
  hostPath?: { path: string };
  configMap?: { name: string };
  secret?: { secretName: string };
}
interface PodSpec {
  serviceAccountName?: string;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  affinity?: { podAntiAffinity?: Record<string, unknown> };
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    podManagementPolicy?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

// Rendered on first use, in the test that needs it: without kubectl every test fails with the
// message saying so (none is skipped).
const rendered = new Map<Overlay, K8sObject[]>();
const objectsOf = (overlay: Overlay): K8sObject[] => {
  let objects = rendered.get(overlay);
  if (objects === undefined) {
    objects = renderOverlay(overlay);
    rendered.set(overlay, objects);
  }
  return objects;
};
const find = <T extends K8sObject>(overlay: Overlay, kind: string, name?: string): T => {
  const found = objectsOf(overlay).find(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (found === undefined) throw new Error(`${overlay}: no ${kind} ${name ?? ""}`);
  return found as T;
};
const server = (overlay: Overlay) => find<Workload>(overlay, "StatefulSet", "ipamd-server");
const agent = (overlay: Overlay) => find<Workload>(overlay, "DaemonSet", "ipamd-agent");
const containerOf = (w: Workload, name: string): Container => {
  const all = [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers];
  const c = all.find((x) => x.name === name);
  if (c === undefined) throw new Error(`${w.metadata.name}: no container ${name}`);
  return c;
};
const envOf = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.value;
const allContainers = (w: Workload) => [
  ...(w.spec.template.spec.initContainers ?? []).map((c) => ({ c, init: true })),
  ...w.spec.template.spec.containers.map((c) => ({ c, init: false })),
];
const workloads = (overlay: Overlay) => [server(overlay), agent(overlay)];

describe.each(OVERLAYS)("overlay %s", (overlay) => {
  it("renders, and every object validates against its Kubernetes schema", async () => {
    const objects = objectsOf(overlay);
    expect(objects.length).toBeGreaterThan(10);
    expect(await schemaProblems(objects)).toEqual([]);
  });

  it("puts everything in ipamd-system", () => {
    for (const o of objectsOf(overlay)) {
      const cluster = ["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind);
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(
        cluster ? undefined : NAMESPACE,
      );
    }
    expect(find(overlay, "Namespace").metadata.name).toBe(NAMESPACE);
  });

  it("grants least privilege: no wildcards, no Secrets, writes only to events", () => {
    const objects = objectsOf(overlay);
    const roles = objects.filter((o) => o.kind === "Role" || o.kind === "ClusterRole");
    expect(roles.length).toBeGreaterThan(0);
    const readOnly = ["get", "list", "watch"];
    for (const role of roles) {
      for (const rule of (role as unknown as { rules: Rule[] }).rules) {
        const where = `${role.kind}/${role.metadata.name} ${JSON.stringify(rule)}`;
        for (const field of [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames]) {
          expect(field ?? [], where).not.toContain("*");
        }
        expect(rule.nonResourceURLs, where).toBeUndefined();
        expect(rule.resources ?? [], where).not.toContain("secrets");
        for (const verb of rule.verbs) {
          expect(["escalate", "bind", "impersonate", "delete", "deletecollection"]).not.toContain(
            verb,
          );
          if (readOnly.includes(verb)) continue;
          // The only write: events (what a user must see, on Pods and Nodes).
          const events = rule.resources?.every((r) => r === "events") === true;
          expect(events && verb === "create", `${where}: ${verb}`).toBe(true);
        }
      }
    }
    // Bindings grant only to ipamd's own service accounts, which the workloads use.
    const accounts = objects.filter((o) => o.kind === "ServiceAccount").map((o) => o.metadata.name);
    for (const binding of objects.filter((o) => o.kind.endsWith("RoleBinding"))) {
      const b = binding as unknown as {
        roleRef: { kind: string; name: string };
        subjects: { kind: string; name: string; namespace: string }[];
      };
      expect(find(overlay, b.roleRef.kind, b.roleRef.name)).toBeDefined();
      for (const s of b.subjects) {
        expect(s).toMatchObject({ kind: "ServiceAccount", namespace: NAMESPACE });
        expect(accounts).toContain(s.name);
      }
    }
    for (const w of workloads(overlay)) {
      expect(accounts).toContain(w.spec.template.spec.serviceAccountName);
    }
  });

  it("pins every image to a tag or digest, never latest", () => {
    for (const w of workloads(overlay)) {
      for (const { c } of allContainers(w)) {
        const match = /^[^:@\s]+(?::([\w][\w.-]{0,127}))?(?:@sha256:[0-9a-f]{64})?$/.exec(c.image);
        expect(match, c.image).not.toBeNull();
        const tag = match?.[1];
        expect(tag !== undefined || c.image.includes("@sha256:"), c.image).toBe(true);
        expect(tag, c.image).not.toBe("latest");
      }
    }
  });

  it("runs every container without privilege, non-root but for the agent's two init containers", () => {
    for (const w of workloads(overlay)) {
      for (const { c, init } of allContainers(w)) {
        const sc = c.securityContext ?? {};
        expect(sc.privileged ?? false, c.name).toBe(false);
        expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
        expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
        expect(sc.capabilities?.drop, c.name).toEqual(["ALL"]);
        expect(c.resources?.requests?.cpu, c.name).toBeDefined();
        expect(c.resources?.limits?.memory, c.name).toBeDefined();
        const user = sc.runAsUser ?? w.spec.template.spec.securityContext?.runAsUser;
        if (init) continue;
        expect(user, c.name).toBe(65532);
      }
    }
    const rootInits = (agent(overlay).spec.template.spec.initContainers ?? []).map((c) => c.name);
    expect(rootInits).toEqual(["install-cni", "own-host-dirs"]);
    expect(containerOf(agent(overlay), "own-host-dirs").securityContext?.capabilities?.add).toEqual(
      ["CHOWN", "FOWNER"],
    );
  });

  it("resolves every $(VAR) from a variable defined before it, or a Service's link variables", () => {
    const services = objectsOf(overlay)
      .filter((o) => o.kind === "Service")
      .filter((o) => (o as unknown as { spec: { clusterIP?: string } }).spec.clusterIP !== "None")
      .map((o) => o.metadata.name.toUpperCase().replaceAll("-", "_"));
    const links = services.flatMap((s) => [`${s}_SERVICE_HOST`, `${s}_SERVICE_PORT`]);
    for (const w of workloads(overlay)) {
      for (const { c } of allContainers(w)) {
        const defined = new Set(links);
        for (const e of c.env ?? []) {
          for (const [, ref] of (e.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
            expect(defined.has(ref ?? ""), `${c.name}: ${e.name} uses $(${ref})`).toBe(true);
          }
          defined.add(e.name);
        }
        for (const word of [...(c.command ?? []), ...(c.args ?? [])]) {
          for (const [, ref] of word.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
            expect(defined.has(ref ?? ""), `${c.name}: command uses $(${ref})`).toBe(true);
          }
        }
      }
    }
  });

  it("grants each role exactly what ipamd --kubernetes calls, and both run with --kubernetes", () => {
    const rules = (name: string) =>
      (find(overlay, "ClusterRole", name) as unknown as { rules: Rule[] }).rules.map(
        (r) => `${(r.apiGroups ?? []).join(",")}|${r.resources?.join(",")}|${r.verbs.join(",")}`,
      );
    // Servers: the node controller (list/watch Nodes, a fresh get before revoking), the sticky
    // controller (list/watch StatefulSets, fresh gets of them and of their Pods), Events.
    expect(rules("ipamd-server")).toEqual([
      "|nodes|get,list,watch",
      "|pods|get",
      "apps|statefulsets|get,list,watch",
      "|events|create",
    ]);
    // Agents: their Node and Pods (list/watch, fresh gets), Namespaces (the default purpose).
    expect(rules("ipamd-agent")).toEqual([
      "|nodes,pods|get,list,watch",
      "|namespaces|get",
      "|events|create",
    ]);
    expect(objectsOf(overlay).filter((o) => o.kind === "Role")).toEqual([]);
    expect(envOf(containerOf(agent(overlay), "agent"), "IPAMD_KUBERNETES")).toBe("true");
    expect(envOf(containerOf(server(overlay), "server"), "IPAMD_KUBERNETES")).toBe("true");
  });

  it("runs the agent on every node with the node's network, ready on /readyz", () => {
    const a = agent(overlay);
    const spec = a.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe("ClusterFirstWithHostNet");
    // A toleration with no key and operator Exists tolerates every taint.
    expect(spec.tolerations).toContainEqual({ operator: "Exists" });
    const main = containerOf(a, "agent");
    expect(envOf(main, "IPAMD_ROLE")).toBe("agent");
    expect(envOf(main, "IPAMD_NODE_ID")).toBe("$(NODE_NAME)");
    expect(main.env?.find((e) => e.name === "NODE_NAME")?.valueFrom).toEqual({
      fieldRef: { fieldPath: "spec.nodeName" },
    });
    expectProbesOnMetricsPort(main);
    // The servers reach it through the ipam-servers Service, which selects the server pods.
    expect(envOf(main, "IPAMD_SERVERS")).toBe(
      "$(IPAM_SERVERS_SERVICE_HOST):$(IPAM_SERVERS_SERVICE_PORT)",
    );
    const svc = find(overlay, "Service", "ipam-servers") as unknown as {
      spec: { selector: Record<string, string>; ports: { port: number }[] };
    };
    expect(server(overlay).spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(svc.spec.ports.map((p) => p.port)).toEqual([7400]);
  });

  it("installs the plugin and a valid network list into the host's CNI folders", () => {
    const a = agent(overlay);
    const install = containerOf(a, "install-cni");
    expect(install.command).toEqual(["ipamd-cni-install"]);
    const hostRoot = envOf(install, "IPAMD_CNI_HOST_ROOT") ?? "/";
    const hostPathAt = (c: Container, mountPath: string) => {
      const mount = c.volumeMounts?.find((m) => m.mountPath === mountPath);
      return a.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
    };
    // The installer's defaults (--bin-dir /opt/cni/bin, --conf-dir /etc/cni/net.d) under the host
    // root are the host's folders.
    expect(hostPathAt(install, join(hostRoot, "opt/cni/bin"))?.hostPath?.path).toBe("/opt/cni/bin");
    expect(hostPathAt(install, join(hostRoot, "etc/cni/net.d"))?.hostPath?.path).toBe(
      "/etc/cni/net.d",
    );
    // The list it installs comes from the ipamd-cni-config ConfigMap, and the plugin accepts it.
    const listPath = envOf(install, "IPAMD_CNI_CONFLIST") ?? "";
    const listDir = listPath.slice(0, listPath.lastIndexOf("/"));
    const configMapName = hostPathAt(install, listDir)?.configMap?.name ?? "";
    const configMap = find(overlay, "ConfigMap", configMapName) as unknown as {
      data: Record<string, string>;
    };
    const listText = configMap.data[listPath.slice(listDir.length + 1)] ?? "";
    const dir = mkdtempSync(join(tmpdir(), "ipamd-manifest-"));
    try {
      writeFileSync(join(dir, "list"), listText);
      const check = spawnSync(
        process.execPath,
        [INSTALLER, "--print-conflist", "--conflist", join(dir, "list")],
        { encoding: "utf8" },
      );
      expect(check.status, check.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The plugin dials the agent's socket (its default, /run/ipamd/ipamd.sock), which is in a
    // host folder the agent mounts at the same path.
    const ipam = JSON.parse(listText).plugins[0].ipam as { socketPath?: string };
    const socket = ipam.socketPath ?? "/run/ipamd/ipamd.sock";
    const main = containerOf(a, "agent");
    expect(envOf(main, "IPAMD_UNIX_SOCKET")).toBe(socket);
    expect(hostPathAt(main, "/run/ipamd")?.hostPath?.path).toBe("/run/ipamd");
    expect(hostPathAt(main, "/var/lib/ipamd")?.hostPath?.path).toBe("/var/lib/ipamd");
  });

  it("runs three servers that bootstrap, join through the headless Service and keep a quorum", () => {
    const s = server(overlay);
    const spec = s.spec.template.spec;
    expect(s.spec.replicas).toBe(3);
    expect(s.spec.podManagementPolicy).toBe("Parallel");
    expect(spec.hostNetwork).toBe(true);
    const main = containerOf(s, "server");
    expect(main.command).toEqual(["ipamd-server-start"]);
    expectProbesOnMetricsPort(main);
    // One advertise address per replica, in ordinal order, each a pod's name in the headless
    // Service that also publishes servers not ready yet (peers must reach each other to elect).
    const headless = find(overlay, "Service", s.spec.serviceName) as unknown as {
      spec: { clusterIP: string; publishNotReadyAddresses: boolean };
    };
    expect(headless.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    const grpc = main.ports?.find((p) => p.name === "grpc")?.containerPort;
    expect(envOf(main, "IPAMD_SERVER_ADDRS")?.split(",")).toEqual(
      [0, 1, 2].map(
        (i) => `${s.metadata.name}-${i}.${s.spec.serviceName}.$(POD_NAMESPACE).svc:${grpc}`,
      ),
    );
    expect(envOf(main, "IPAMD_GRPC_ADDR")).toBe(`0.0.0.0:${grpc}`);
    // Schedulable before any node's network is ready (ipamd is what makes it ready).
    for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/network-unavailable"]) {
      expect(spec.tolerations).toContainEqual({ key, operator: "Exists", effect: "NoSchedule" });
    }
    // Voluntary disruptions take at most one server: two of three keep the quorum.
    const pdb = find(overlay, "PodDisruptionBudget", "ipamd-server") as unknown as {
      spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(s.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    const anti = spec.affinity?.podAntiAffinity ?? {};
    if (overlay === "insecure-lab") {
      expect(Object.keys(anti)).toEqual(["preferredDuringSchedulingIgnoredDuringExecution"]);
    } else {
      expect(Object.keys(anti)).toEqual(["requiredDuringSchedulingIgnoredDuringExecution"]);
    }
    // The topology the leader applies is valid.
    const topology = find(overlay, "ConfigMap", "ipamd-topology") as unknown as {
      data: Record<string, string>;
    };
    expect(envOf(main, "IPAMD_TOPOLOGY")).toBe("/etc/ipamd/topology/topology.yaml");
    const parsed = parseTopology(topology.data["topology.yaml"] ?? "");
    const tor = envOf(containerOf(agent(overlay), "agent"), "IPAMD_TOR");
    if (tor !== undefined) expect(parsed.tors.has(tor)).toBe(true);
  });

  it("uses TLS with names that match the certificates, or says plainly that it does not", () => {
    const main = containerOf(server(overlay), "server");
    const agentMain = containerOf(agent(overlay), "agent");
    if (overlay === "insecure-lab") {
      expect(envOf(main, "IPAMD_INSECURE")).toBe("true");
      expect(envOf(main, "IPAMD_TLS_CERT")).toBeUndefined();
      return;
    }
    expect(envOf(main, "IPAMD_INSECURE")).toBeUndefined();
    const secrets = new Map<string, string>();
    for (const [w, c] of [
      [server(overlay), main],
      [agent(overlay), agentMain],
    ] as const) {
      for (const name of ["IPAMD_TLS_CERT", "IPAMD_TLS_KEY", "IPAMD_TLS_CA"]) {
        expect(envOf(c, name), `${c.name} ${name}`).toMatch(/^\/etc\/ipamd\/tls\//);
      }
      const mount = c.volumeMounts?.find((m) => m.mountPath === "/etc/ipamd/tls");
      const secret = w.spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.secret;
      expect(secret?.secretName).toBeDefined();
      secrets.set(c.name, secret?.secretName ?? "");
      expect(envOf(c, "IPAMD_TLS_SERVER_NAME")).toBe(`ipam-servers.${NAMESPACE}.svc`);
    }
    expect(Object.fromEntries(secrets)).toEqual({
      server: "ipamd-server-tls",
      agent: "ipamd-agent-tls",
    });
    if (overlay !== "mtls") return;
    // cert-manager issues exactly those Secrets, with names for every address a server is
    // dialled by (the name clients expect, each advertise address) and the right usages.
    const certificates = objectsOf(overlay).filter((o) => o.kind === "Certificate") as unknown as {
      spec: {
        secretName: string;
        dnsNames?: string[];
        uris?: string[];
        usages?: string[];
        isCA?: boolean;
      };
    }[];
    const bySecret = (name: string) => certificates.find((c) => c.spec.secretName === name)?.spec;
    const serverCert = bySecret("ipamd-server-tls");
    expect(serverCert?.dnsNames).toContain(envOf(main, "IPAMD_TLS_SERVER_NAME"));
    const advertised = envOf(main, "IPAMD_SERVER_ADDRS")?.split(",") ?? [];
    for (const address of advertised) {
      const host = address.replace("$(POD_NAMESPACE)", NAMESPACE).split(":")[0] ?? "";
      const covered = serverCert?.dnsNames?.some(
        (n) => n === host || (n.startsWith("*.") && host.endsWith(n.slice(1))),
      );
      expect(covered, host).toBe(true);
    }
    expect(serverCert?.usages).toEqual(expect.arrayContaining(["server auth", "client auth"]));
    // The server identity ipamd authorises the Raft peer service and forwarding by.
    expect(serverCert?.uris?.some((u) => u.startsWith("spiffe://ipamd.local/server/"))).toBe(true);
    // Agents need one certificate per node (their identity): no shared agent Certificate.
    expect(bySecret("ipamd-agent-tls")).toBeUndefined();
  });
});

it("the manual certificates (certs/make-certs.sh) carry the names the mtls-manual overlay expects", () => {
  const dir = mkdtempSync(join(tmpdir(), "ipamd-manual-certs-"));
  try {
    const made = spawnSync(
      "sh",
      [join(DEPLOY, "certs/make-certs.sh"), "--out", dir, "--nodes", "worker-1,worker-2"],
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const sansOf = (file: string) =>
      spawnSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", join(dir, file)], {
        encoding: "utf8",
      }).stdout;
    const sans = sansOf("server.crt");
    const main = containerOf(server("mtls-manual"), "server");
    expect(sans).toContain(`DNS:${envOf(main, "IPAMD_TLS_SERVER_NAME")}`);
    expect(sans).toContain(`DNS:*.ipamd-server.${NAMESPACE}.svc`);
    // The identities ipamd authorises by: servers, each node for itself, the operator.
    expect(sans).toContain("URI:spiffe://ipamd.local/server/");
    expect(sansOf("node-worker-1.crt")).toContain("URI:spiffe://ipamd.local/node/worker-1");
    expect(sansOf("node-worker-2.crt")).toContain("URI:spiffe://ipamd.local/node/worker-2");
    expect(sansOf("operator.crt")).toContain("URI:spiffe://ipamd.local/operator/");
    // Each agent reads its own node's file from the Secret.
    const agentMain = containerOf(agent("mtls-manual"), "agent");
    expect(envOf(agentMain, "IPAMD_TLS_CERT")).toBe("/etc/ipamd/tls/$(NODE_NAME).crt");
    expect(made.stdout).toContain("--from-file=worker-1.crt=");
    expect(made.stdout).toContain("--from-file=worker-2.key=");
    // Without --nodes it refuses (an agent without its node's certificate would be refused).
    const without = spawnSync(
      "sh",
      [join(DEPLOY, "certs/make-certs.sh"), "--out", join(dir, "x")],
      {
        encoding: "utf8",
      },
    );
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain("--nodes");
    // The Secret commands it prints are those the overlay mounts.
    expect(made.stdout).toContain("create secret generic ipamd-server-tls");
    expect(made.stdout).toContain("create secret generic ipamd-agent-tls");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("every overlay and the base type-check against the models: no unknown or misplaced field", () => {
  const all = [...OVERLAYS.flatMap((o) => objectsOf(o)), ...render(join(DEPLOY, "base"))];
  expect(typeProblems(all)).toEqual([]);
});

function expectProbesOnMetricsPort(c: Container): void {
  const metrics = c.ports?.find((p) => p.name === "metrics")?.containerPort;
  expect(metrics).toBeGreaterThan(0);
  // ipamd serves /readyz and /healthz on its metrics address: that port, on the pod's IP.
  expect(envOf(c, "IPAMD_METRICS_ADDR")).toBe(`$(POD_IP):${metrics}`);
  expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
  expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
}
