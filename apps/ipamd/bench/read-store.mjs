// The same-run baseline of the scale bench's restart-to-ready (issue 22, target 4): a fresh
// Node process that opens a stopped server's SQLite file and reads its Raft snapshot chunks and
// log tail, then exits. It shares no code with ipamd (only better-sqlite3, which @ipam/store
// uses), so its time is the floor any restart pays: process start, the file, the bytes.
// Usage: node read-store.mjs <a file inside @ipam/store> <ipamd.db>; prints the bytes read.
import { createRequire } from "node:module";

const [storeEntry, path] = process.argv.slice(2);
if (storeEntry === undefined || path === undefined) {
  throw new Error("usage: node read-store.mjs <@ipam/store entry> <ipamd.db>");
}
const Database = createRequire(storeEntry)("better-sqlite3");
const db = new Database(path, { readonly: true, fileMustExist: true });
let bytes = 0;
for (const row of db
  .prepare("SELECT data FROM raft_snapshot_chunks ORDER BY group_id, seq")
  .iterate()) {
  bytes += row.data.length;
}
for (const row of db.prepare("SELECT data FROM raft_log ORDER BY group_id, idx").iterate()) {
  bytes += row.data.length;
}
db.close();
process.stdout.write(String(bytes));
