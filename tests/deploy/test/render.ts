// Renders a kustomization with `kubectl kustomize` (kustomize v5, built into kubectl) and
// validates what it renders against the Kubernetes schemas: each object with its kind's JSON
// Schema validator from kubernetes-models (types, formats, required fields), and all of them
// together through the TypeScript compiler against the same models' types, whose excess
// property check catches a misspelt or misplaced field at any depth (which the schemas, open to
// unknown fields, let through and a cluster would silently ignore).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

/** The repository's deploy/ folder (this file is tests/deploy/test/render.ts). */
export const DEPLOY = fileURLToPath(new URL("../../../deploy/", import.meta.url));
/** Every overlay a user applies. */
export const OVERLAYS = ["insecure-lab", "mtls", "mtls-manual"] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** A rendered object, as plain JSON. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string } & Record<
    string,
    unknown
  >;
  readonly [field: string]: unknown;
}

const KUBECTL = process.env.KUBECTL ?? "kubectl";

/**
 * `kubectl kustomize <dir>` parsed into objects.
 * @throws Error naming the missing kubectl and how to get it, or kustomize's own message.
 */
export function render(dir: string): K8sObject[] {
  const run = spawnSync(KUBECTL, ["kustomize", dir], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (run.error !== undefined) {
    throw new Error(
      `${KUBECTL} could not be run (${run.error.message}): the manifest tests render deploy/ with ` +
        "`kubectl kustomize` (kustomize v5). Install kubectl >= 1.27 (it is on the CI image at " +
        "/usr/bin/kubectl), or set KUBECTL to its path.",
    );
  }
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`unparsable output: ${doc.errors[0]?.message}`);
    return doc.toJSON() as K8sObject;
  });
}

export const renderOverlay = (overlay: Overlay) => render(join(DEPLOY, "overlays", overlay));

/** Where each apiVersion's models live: kubernetes-models, and cert-manager's. */
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith("cert-manager.io/")) {
    return `@kubernetes-models/cert-manager/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Validates each object with its kind's schema; resolves with every problem found. */
export async function schemaProblems(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const module = modelModule(object.apiVersion, object.kind);
    let Model: ModelClass;
    try {
      Model = (await import(module))[object.kind] as ModelClass;
    } catch {
      problems.push(`${id(object)}: no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${id(object)}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/**
 * Type-checks the objects as object literals of their models' interfaces (`IStatefulSet`, ...),
 * in one in-memory TypeScript program; returns the compiler's messages.
 */
export function typeProblems(objects: readonly K8sObject[]): string[] {
  const lines: string[] = [];
  objects.forEach((object, i) => {
    const module = modelModule(object.apiVersion, object.kind);
    lines.push(`import type { I${object.kind} as T${i} } from "${module}";`);
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(object)};`);
  });
  // In memory only, beside this file, so that the models resolve from this package.
  const file = fileURLToPath(new URL("./__rendered__.ts", import.meta.url));
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const text = lines.join("\n");
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === file
      ? ts.createSourceFile(name, text, version, true)
      : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? text : readFile(name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (d.file?.fileName !== file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const object = objects[Math.floor(line / 2)];
    return `${object === undefined ? "?" : id(object)}: ${message}`;
  });
}
