/**
 * Runs every benchmark (each bench/*.ts but this file) one after another, each in its own process,
 * with its output streamed through. Exits non-zero if any of them failed. Helpers live in bench/lib/
 * and are not run.
 */
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";

const BENCH_DIR = import.meta.dirname;
const ROOT = path.resolve(BENCH_DIR, "..");
const SELF = path.basename(import.meta.filename);

async function benchmarks(): Promise<string[]> {
  const entries = await readdir(BENCH_DIR, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") && e.name !== SELF)
    .map((e) => e.name)
    .sort();
}

function runOne(file: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join("bench", file)], {
      cwd: ROOT,
      stdio: "inherit",
    });
    child.once("error", (error) => {
      console.error(`could not start ${file}: ${error.message}`);
      resolve(1);
    });
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const files = await benchmarks();
  if (files.length === 0) {
    console.error("no benchmarks found in bench/");
    return 1;
  }
  const results: { file: string; code: number; seconds: number }[] = [];
  for (const file of files) {
    console.log(`\n=== bench/${file} ===\n`);
    const started = performance.now();
    const code = await runOne(file);
    results.push({ file, code, seconds: (performance.now() - started) / 1000 });
  }
  console.log("\n=== summary ===");
  for (const r of results) {
    console.log(`  ${r.code === 0 ? "ok    " : "FAILED"}  bench/${r.file}  (${r.seconds.toFixed(1)} s)`);
  }
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length > 0) console.error(`\n${failed.length} of ${results.length} benchmarks failed`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
