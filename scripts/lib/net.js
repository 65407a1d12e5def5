// Loopback ports and readiness checks.
'use strict';
const net = require('net');
const http = require('http');

/** Resolves true when 127.0.0.1:`port` can be listened on right now. */
function isPortFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port on 127.0.0.1: `preferred` when it is free, else one the system picks. */
async function freePort(preferred) {
  if (preferred && (await isPortFree(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

/**
 * Polls `url` until it answers 200. Rejects on timeout, or as soon as `stillRunning()` says the
 * server process is gone.
 */
async function waitForHttp(url, { timeoutMs = 60000, stillRunning = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await httpStatus(url)) === 200) return;
    if (!stillRunning()) throw new Error(`the server exited before ${url} answered`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

module.exports = { freePort, isPortFree, waitForHttp };
