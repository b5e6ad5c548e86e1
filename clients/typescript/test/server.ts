// Starts the real channelhub binary for the tests: a free loopback port,
// SQLite in a temporary directory, and a restart on the same port and data.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, createWriteStream, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Channelhub, type WebSocketConstructor } from 'channelhub';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
/** The debug binary `cargo build` (or `cargo test`) makes; CHANNELHUB_BIN overrides it. */
const BINARY = process.env.CHANNELHUB_BIN ?? fileURLToPath(new URL('../../../../target/debug/channelhub', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with `promise`, or fails with `message` after `ms`. Every wait in the tests goes through this. */
export async function within<T>(ms: number, message: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 20 ms until it is true, or fails with `message` after `ms`. */
export async function waitFor(ms: number, message: string, check: () => boolean | Promise<boolean>): Promise<void> {
  await within(ms, message, (async () => {
    while (!(await check())) await new Promise((r) => setTimeout(r, 20));
  })());
}

export class TestServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'channelhub-ts-'));
  readonly log = join(this.dir, 'server.log');
  private process?: ChildProcess;
  port = 0;

  private constructor(private readonly args: string[]) {}

  static async start(args: string[] = []): Promise<TestServer> {
    if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`cargo build\` first (or set CHANNELHUB_BIN)`);
    const server = new TestServer(args);
    server.port = await freePort();
    await server.run();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A client with the admin token and `ws` as its WebSocket. */
  client(options: { token?: string | null; WebSocket?: WebSocketConstructor } = {}): Channelhub {
    return new Channelhub({
      url: this.url,
      token: options.token === null ? undefined : (options.token ?? ADMIN_TOKEN),
      WebSocket: options.WebSocket ?? (WebSocket as unknown as WebSocketConstructor),
    });
  }

  private async run(): Promise<void> {
    const out = createWriteStream(this.log, { flags: 'a' });
    const child = spawn(BINARY, [
      'serve',
      '--listen', `127.0.0.1:${this.port}`,
      '--database-url', `sqlite://${join(this.dir, 'x.db')}`,
      '--admin-token', ADMIN_TOKEN,
      '--allow-private-webhooks',
      // These tests drive the client, not the limits.
      '--exempt-loopback',
      '--shutdown-grace', '2',
      ...this.args,
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.process = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`channelhub exited with ${code}: ${this.logTail()}`))));
    exited.catch(() => {});
    await within(30_000, `channelhub did not become ready on port ${this.port}: ${this.logTail()}`, Promise.race([exited, (async () => {
      for (;;) {
        try {
          if ((await fetch(`${this.url}/readyz`)).ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })()]));
  }

  /** SIGTERM (graceful: WebSockets get 1001) and wait for the exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await within(15_000, 'channelhub did not exit after SIGTERM', exited);
  }

  /** Stops and starts again on the same port and database. */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** One counter of /metrics (0 when absent). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  logTail(): string {
    try {
      return readFileSync(this.log, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** Distinct channel ids within one server. */
let counter = 0;
export function channelId(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}
