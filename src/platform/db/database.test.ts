import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { capturingLogger } from "../../../test/helpers/capture-log.ts";
import { freePort } from "../../../test/helpers/ports.ts";
import { cloneTemplate, testServer, withClient } from "../../../test/helpers/postgres.ts";
import { createLoop } from "../../delivery/loop.ts";
import { DatabaseUnavailableError, isConnectionError } from "./availability.ts";
import { createRuntimePool, Database, type Tx } from "./database.ts";

/**
 * A transaction whose backend is terminated (by an operator, a failover, a restart) rejects with
 * DatabaseUnavailableError, writes nothing, and neither ends the process (an unhandled 'error' from
 * the checked-out client did) nor leaves a broken connection in the pool.
 */
describe("Database when its connection is lost", () => {
  let database: Awaited<ReturnType<typeof cloneTemplate>>;
  let db: Database;
  const log = capturingLogger();

  before(async () => {
    database = await cloneTemplate(`ludus_test_db_${randomBytes(6).toString("hex")}`);
    db = new Database(createRuntimePool(database.url, 2, true), log.logger);
  });
  after(async () => {
    await db.close();
    await database.drop();
  });

  const terminate = (pid: number) =>
    withClient(testServer().url, (c) => c.query("SELECT pg_terminate_backend($1)", [pid]));
  const settingRows = (key: string) =>
    db.asSystem((tx) => tx.rows(`SELECT 1 FROM settings WHERE key = $1`, [key]));
  const backendPid = async (tx: Tx) => (await tx.one<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).pid;

  it("between two statements: rejects as unavailable, writes nothing, and the pool recovers", async () => {
    const key = `probe-${randomBytes(4).toString("hex")}`;
    const failed = db.asSystem(async (tx) => {
      await tx.exec(`INSERT INTO settings (key, value) VALUES ($1, 'half')`, [key]);
      // The backend dies while no statement is running: the client emits 'error' on its own.
      await terminate(await backendPid(tx));
      await new Promise((r) => setTimeout(r, 200));
      await tx.exec(`UPDATE settings SET value = 'whole' WHERE key = $1`, [key]);
    });
    await assert.rejects(failed, (err: unknown) => {
      assert.ok(err instanceof DatabaseUnavailableError, String(err));
      assert.equal(err.commitUnknown, false);
      return true;
    });
    assert.deepEqual(await settingRows(key), [], "nothing of the transaction is left");
    assert.equal(db.health.available, true, "the next transaction found the database again");
  });

  it("during a statement: rejects as unavailable and writes nothing", async () => {
    const key = `probe-${randomBytes(4).toString("hex")}`;
    const failed = db.asSystem(async (tx) => {
      await tx.exec(`INSERT INTO settings (key, value) VALUES ($1, 'half')`, [key]);
      const pid = await backendPid(tx);
      const slow = tx.exec(`SELECT pg_sleep(5)`);
      slow.catch(() => undefined); // awaited below; handled now so it is not reported meanwhile
      await new Promise((r) => setTimeout(r, 100));
      await terminate(pid);
      await slow;
    });
    await assert.rejects(failed, DatabaseUnavailableError);
    assert.deepEqual(await settingRows(key), []);
  });

  it("a connection lost once COMMIT is sent: outcome unknown, commit hooks neither kept nor undone", async () => {
    const calls: string[] = [];
    const failed = db.asSystem(async (tx) => {
      const pid = await backendPid(tx);
      tx.beforeCommit(
        async () => {
          calls.push("apply");
          // Just before COMMIT: the backend dies, so COMMIT goes to a dead connection.
          await terminate(pid);
          await new Promise((r) => setTimeout(r, 200));
        },
        async () => {
          calls.push("undo");
        },
        () => calls.push("uncertain"),
      );
    });
    await assert.rejects(failed, (err: unknown) => {
      assert.ok(err instanceof DatabaseUnavailableError, String(err));
      assert.equal(err.commitUnknown, true);
      return true;
    });
    assert.deepEqual(calls, ["apply", "uncertain"]);
  });

  it("a connection lost before COMMIT: hooks applied are undone", async () => {
    const calls: string[] = [];
    const failed = db.asSystem(async (tx) => {
      const pid = await backendPid(tx);
      tx.beforeCommit(
        async () => {
          calls.push("apply");
        },
        async () => {
          calls.push("undo");
        },
        () => calls.push("uncertain"),
      );
      tx.beforeCommit(
        async () => {
          await terminate(pid);
          await new Promise((r) => setTimeout(r, 200));
          // The next hook talks to the database (as a rank index write would not, but a check could).
          await tx.exec(`SELECT 1`);
        },
        async () => undefined,
      );
    });
    await assert.rejects(failed, (err: unknown) => {
      assert.ok(err instanceof DatabaseUnavailableError, String(err));
      assert.equal(err.commitUnknown, false);
      return true;
    });
    assert.deepEqual(calls, ["apply", "undo"]);
  });

  it("logs the outage once and its end once, whatever the number of failures", async () => {
    // The test before ended with a failure: what the database layer knows starts from a success.
    await db.asSystem((tx) => tx.exec(`SELECT 1`));
    assert.equal(db.health.available, true);
    const before = log.lines.length;
    const pids: number[] = [];
    let go = () => {};
    const killed = new Promise<void>((resolve) => (go = resolve));
    // Two transactions, each on one of the pool's two connections, wait for both to be killed.
    const failures = [0, 1].map(() =>
      assert.rejects(
        db.asSystem(async (tx) => {
          pids.push(await backendPid(tx));
          await killed;
          return tx.exec(`SELECT 1`);
        }),
        DatabaseUnavailableError,
      ),
    );
    for (let waited = 0; pids.length < 2; waited += 10) {
      assert.ok(waited < 10_000, "both transactions started");
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const pid of pids) await terminate(pid);
    await new Promise((r) => setTimeout(r, 200));
    go();
    await Promise.all(failures);
    await db.asSystem((tx) => tx.exec(`SELECT 1`));
    const messages = log.lines.slice(before).map((l) => l.msg);
    assert.equal(messages.filter((m) => m?.startsWith("database unavailable")).length, 1, String(messages));
    assert.equal(messages.filter((m) => m === "database available again").length, 1, String(messages));
  });

  it("a refused connection is unavailable at once (no hang)", async () => {
    const url = new URL(database.url);
    url.port = String(await freePort());
    const nowhere = new Database(createRuntimePool(url.toString(), 1, true), capturingLogger().logger);
    try {
      await assert.rejects(
        nowhere.asSystem((tx) => tx.exec(`SELECT 1`)),
        DatabaseUnavailableError,
      );
      assert.equal(nowhere.health.available, false);
    } finally {
      await nowhere.close();
    }
  });

  it("statement errors are not connection errors", async () => {
    const failed = db.asSystem((tx) => tx.exec(`SELECT * FROM no_such_table`));
    await assert.rejects(failed, (err: unknown) => {
      assert.ok(!(err instanceof DatabaseUnavailableError));
      assert.equal(isConnectionError(err), false);
      return true;
    });
  });
});

describe("a background loop while the database is unavailable", () => {
  it("logs once, backs off, and resumes by itself", async () => {
    const log = capturingLogger();
    let down = true;
    let ticks = 0;
    let worked = 0;
    const loop = createLoop(
      "probe",
      10,
      async () => {
        ticks += 1;
        if (down) throw new DatabaseUnavailableError(new Error("Connection terminated unexpectedly"));
        worked += 1;
        return { more: false };
      },
      log.logger,
    );
    loop.start();
    try {
      await new Promise((r) => setTimeout(r, 1500));
      // At a 10 ms interval that would be ~150 ticks; backing off (250 ms, doubling) a handful.
      assert.ok(ticks >= 2 && ticks <= 10, `ticks while down: ${ticks}`);
      down = false;
      for (let waited = 0; worked === 0; waited += 50) {
        assert.ok(waited < 10_000, "the loop resumed");
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await loop.stop();
    }
    const messages = log.lines.map((l) => l.msg);
    assert.equal(messages.filter((m) => m === "background loop waiting for the database").length, 1);
    assert.equal(messages.filter((m) => m === "background loop tick failed").length, 0);
    assert.equal(messages.filter((m) => m === "background loop resumed").length, 1);
  });
});
