import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "./ports.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** A `ludus serve` child process that has said it is running. */
export interface Serving {
  child: ChildProcess;
  /** Where it answers: http://127.0.0.1:<PORT>. */
  base: string;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
  exited: Promise<number | null>;
}

export interface ServeOptions {
  /** Its environment on top of this process's (less DATABASE_URL: pass it here to use one). */
  env: Record<string, string>;
  /** Lead its own process group, as a shell does for a foreground job (signals to -pid reach all). */
  detached?: boolean;
  /** How long it may take to say it is running. */
  startTimeoutMs?: number;
}

/**
 * Spawns `ludus serve` as a user would (`tsx src/main.ts serve`) and resolves once it prints that
 * it is running; rejects if it exits first or takes too long. Without a PORT in `env`, it gets a
 * free one on 127.0.0.1.
 */
export async function spawnServe(options: ServeOptions): Promise<Serving> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const env: Record<string, string> = { LOG_LEVEL: "warn", ...options.env };
  if (env.PORT === undefined) {
    env.PORT = String(await freePort());
    env.HOST = "127.0.0.1";
  }
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve"], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  let text = "";
  child.stdout?.on("data", (d: Buffer) => (text += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const limit = options.startTimeoutMs ?? 90_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within ${limit / 1000} s:\n${text}`)), limit);
    const poll = setInterval(() => {
      if (text.includes("is running")) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve({ child, base: `http://127.0.0.1:${env.PORT}`, output: () => text, exited });
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before starting:\n${text}`));
    });
  });
}
