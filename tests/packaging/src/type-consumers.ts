import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Entrypoint } from "./entrypoints.js";
import type { ProbeResults } from "./probes.js";
import { cleanEnv, run } from "./run.js";

/** The TypeScript set-ups a consumer may have; each gets its own tsconfig. */
export const typeSetups = {
  /** Node's own resolution: `.ts` files are ES modules (`"type": "module"`), `.cts` CommonJS. */
  nodenext: { module: "nodenext", moduleResolution: "nodenext" },
  /** A bundler's resolution (Vite, esbuild, webpack): `import` and `require` conditions. */
  bundler: { module: "preserve", moduleResolution: "bundler" },
} as const;

export type TypeSetup = keyof typeof typeSetups;

/** One generated consumer file: which entry it imports, and how. */
export interface TypeConsumerFile {
  readonly specifier: string;
  /** `esm`: a `.ts` file with `import`; `cjs`: a `.cts` file with `import x = require()`. */
  readonly style: "esm" | "cjs";
  /** Path relative to the project folder, with `/`. */
  readonly path: string;
}

/** A compiler error, as tsc printed it. */
export interface TypeDiagnostic {
  /** The file as tsc named it, relative to the project folder; `""` for an error of no file. */
  readonly file: string;
  readonly text: string;
}

/**
 * Writes one `.ts` (import) and one `.cts` (require) consumer per module and JSON entry into
 * `<projectDir>/types/`, and a `tsconfig.<setup>.json` per {@link typeSetups} entry (strict,
 * `skipLibCheck: false` so the shipped declarations are compiled too, Node's types).
 *
 * A module consumer assigns `Record<keyof typeof entry, true>` from the names the probes found
 * at run time, so a runtime export without a declaration and a declared value that is not
 * exported at run time are both type errors (types and JavaScript describe the same module).
 */
export function writeTypeConsumers(
  projectDir: string,
  entries: readonly Entrypoint[],
  probes: ProbeResults,
): TypeConsumerFile[] {
  const typesDir = join(projectDir, "types");
  mkdirSync(typesDir, { recursive: true });
  const files: TypeConsumerFile[] = [];
  entries.forEach((entry, index) => {
    if (entry.kind === "file") return;
    const spec = JSON.stringify(entry.specifier);
    const names = (style: "esm" | "cjs"): string => {
      const keys = probes[style][entry.specifier]?.keys ?? [];
      return `{ ${keys.map((key) => `${JSON.stringify(key)}: true`).join(", ")} }`;
    };
    const esm =
      entry.kind === "json"
        ? `import data from ${spec} with { type: "json" };\nexport const value: unknown = data;\n`
        : `import * as entry from ${spec};\nexport const names: Record<keyof typeof entry, true> = ${names("esm")};\n`;
    const cjs =
      entry.kind === "json"
        ? `import data = require(${spec});\nexport const value: unknown = data;\n`
        : `import entry = require(${spec});\nexport const names: Record<keyof typeof entry, true> = ${names("cjs")};\n`;
    for (const [style, extension, text] of [
      ["esm", "ts", esm],
      ["cjs", "cts", cjs],
    ] as const) {
      const path = `types/entry-${index}.${extension}`;
      writeFileSync(join(projectDir, path), `// ${entry.specifier} (${style})\n${text}`);
      files.push({ specifier: entry.specifier, style, path });
    }
  });
  for (const [setup, options] of Object.entries(typeSetups)) {
    const tsconfig = {
      compilerOptions: {
        ...options,
        target: "ES2022",
        lib: ["ES2023"],
        types: ["node"],
        strict: true,
        skipLibCheck: false,
        resolveJsonModule: true,
        noEmit: true,
      },
      include: ["types"],
    };
    writeFileSync(
      join(projectDir, `tsconfig.${setup}.json`),
      `${JSON.stringify(tsconfig, null, 2)}\n`,
    );
  }
  return files;
}

/**
 * Runs the project's own `tsc` (installed from the registry, like a consumer's) on
 * `tsconfig.<setup>.json` and returns every error it printed (none when it exits 0).
 * Throws when tsc fails without printing an error it can attribute.
 */
export async function typeCheck(projectDir: string, setup: TypeSetup): Promise<TypeDiagnostic[]> {
  const tsc = join(projectDir, "node_modules", "typescript", "bin", "tsc");
  const result = await run(
    process.execPath,
    [tsc, "-p", `tsconfig.${setup}.json`, "--pretty", "false"],
    { cwd: projectDir, env: cleanEnv() },
  );
  const diagnostics: TypeDiagnostic[] = [];
  let current: { file: string; lines: string[] } | undefined;
  for (const line of result.stdout.split("\n")) {
    // `file(line,col): error TS…` or, for an error of no file (a missing lib), `error TS…`.
    const match = /^(?:(.+?)\(\d+,\d+\): )?error TS\d+:/.exec(line);
    if (match) {
      if (current) diagnostics.push({ file: current.file, text: current.lines.join("\n") });
      current = { file: match[1] ?? "", lines: [line] };
    } else if (current && line.startsWith(" ")) {
      current.lines.push(line);
    }
  }
  if (current) diagnostics.push({ file: current.file, text: current.lines.join("\n") });
  if (result.code !== 0 && diagnostics.length === 0) {
    throw new Error(
      `tsc -p tsconfig.${setup}.json exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return diagnostics;
}
