// A TCP proxy in front of the server, so a test can cut the page's connections for real (the
// kernel sees the sockets close) while the server and its running turns carry on.

import net from 'node:net';

export class CuttableProxy {
  constructor(target) {
    this.target = new URL(target);
    this.sockets = new Set();
    this.pairs = new Set();
    this.refusing = false;
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts listening on a free port of 127.0.0.1; resolves with the proxy's base URL. */
  listen() {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        resolve(`http://127.0.0.1:${this.server.address().port}`);
      });
    });
  }

  accept(client) {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.on('close', () => {
      upstream.destroy();
      this.pairs.delete(pair);
    });
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Stops passing on what the server sends on the open connections (what the page sends still
   * gets through): the page's frames arrive, their answers do not. */
  mute() {
    for (const { client, upstream } of this.pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
  }

  /** Drops every open connection and refuses new ones until `restore()`. */
  cut() {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore() {
    this.refusing = false;
  }

  close() {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
