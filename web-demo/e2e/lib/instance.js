// A server of a test's own, beside the one run.sh starts: the same binary and JWT secret, its own
// port and temp SQLite database, and the environment the test needs (a model provider, say).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SECRET } from './server.js';

const BINARY =
  process.env.AGENTWIRE_BIN || fileURLToPath(new URL('../../../target/debug/agentwire', import.meta.url));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * Starts `agentwire serve` with `env` added; resolves once `/api/health` answers with
 * {url, stop(), log()}. `stop()` kills it and removes its database; `log()` is what it has
 * written to stderr.
 */
export async function startServer(env = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'agentwire-e2e-server-'));
  const port = await freePort();
  const child = spawn(BINARY, ['serve'], {
    env: {
      PATH: process.env.PATH,
      BIND_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${join(dir, 'e2e.db')}`,
      ENVIRONMENT: 'development',
      JWT_SECRET_KEY: SECRET,
      RATE_LIMIT_REQUESTS: '100',
      LOG_FORMAT: 'json',
      RUST_LOG: 'warn',
      ...env,
    },
    cwd: dir, // no .env of the checkout is read
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill();
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/api/health`)).ok) return { url, stop, log: () => log };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`the server did not start:\n${log}`);
}
