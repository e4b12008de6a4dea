#!/usr/bin/env node
// Creates packages/<name> (or apps/<name> with --app) from templates/package.
// Usage: node scripts/new-package.mjs <name> "<description>" [--app]
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [name, description = "", flag] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: node scripts/new-package.mjs <kebab-name> "<description>" [--app]');
  process.exit(2);
}
const dest = join(flag === "--app" ? "apps" : "packages", name);
if (existsSync(dest)) {
  console.error(`${dest} already exists`);
  process.exit(1);
}
cpSync("templates/package", dest, { recursive: true });
const fill = (dir) => {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) fill(path);
    else
      writeFileSync(
        path,
        readFileSync(path, "utf8")
          .replaceAll("__NAME__", name)
          .replaceAll("__DESCRIPTION__", description),
      );
  }
};
fill(dest);
console.log(`created ${dest}`);
