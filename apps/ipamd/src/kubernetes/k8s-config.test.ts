import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";

const base = { isRoot: false, hostname: "host-1" } as const;
const agent = ["--role", "agent", "--servers", "127.0.0.1:7400"];

describe("--kubernetes settings", () => {
  it("are off by default; on, the node id comes from NODE_NAME unless --node-id is given", () => {
    expect(
      loadConfig({ ...base, argv: agent, env: { NODE_NAME: "w1" } }).kubernetes,
    ).toBeUndefined();
    expect(loadConfig({ ...base, argv: agent, env: { NODE_NAME: "w1" } }).nodeId).toBe("host-1");
    const c = loadConfig({ ...base, argv: [...agent, "--kubernetes"], env: { NODE_NAME: "w1" } });
    expect(c.nodeId).toBe("w1");
    expect(c.kubernetes).toEqual({
      kubeconfig: undefined,
      zoneLabel: "topology.kubernetes.io/zone",
      podLabel: "ipam.io/pod",
      torLabel: "ipam.io/tor",
      nodeGraceMs: 300_000,
      podGraceMs: 60_000,
      resyncMs: 60_000,
      watchIdleMs: 300_000,
    });
    const flagged = loadConfig({
      ...base,
      argv: [
        ...agent,
        "--node-id",
        "n9",
        "--k8s-pod-grace",
        "5",
        "--k8s-tor-label",
        "example.com/rack",
        "--k8s-watch-idle",
        "30",
      ],
      env: { NODE_NAME: "w1", IPAMD_KUBERNETES: "true" },
    });
    expect(flagged.nodeId).toBe("n9");
    expect(flagged.kubernetes?.podGraceMs).toBe(5000);
    expect(flagged.kubernetes?.torLabel).toBe("example.com/rack");
    expect(flagged.kubernetes?.watchIdleMs).toBe(30_000);
  });

  it("refuses a bad label key, a bad grace and role all, naming the flag", () => {
    const load = (argv: string[]) => () => loadConfig({ ...base, argv, env: {} });
    expect(load([...agent, "--kubernetes", "--k8s-tor-label", "a b"])).toThrow(
      /--k8s-tor-label: "a b" is not a Kubernetes label key/,
    );
    expect(load([...agent, "--kubernetes", "--k8s-node-grace", "-1"])).toThrow(/--k8s-node-grace/);
    expect(load([...agent, "--kubernetes", "--k8s-watch-idle", "0"])).toThrow(/--k8s-watch-idle/);
    expect(load(["--kubernetes"])).toThrow(/--kubernetes: runs with --role server/);
  });
});
