import { Agent, request } from "node:http";

/**
 * An open-loop load at a steady rate: request i is due at start + i / rate, sent when due whatever
 * the answers to earlier ones, and its latency counts from when it was due. A stall therefore shows
 * in full (no coordinated omission), and the load is evenly spaced, unlike autocannon's rate limit,
 * which lets each connection send its quota for the second back to back and then wait.
 * The first `warmupSeconds` run at the same rate but are not counted (a cold JIT is not the steady state).
 */
export async function pacedLoad(url: string, path: string, bodies: string[], rate: number, seconds: number, warmupSeconds = 2) {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const { hostname, port } = new URL(url);
  const total = Math.round(rate * (seconds + warmupSeconds));
  const counted = Math.round(rate * warmupSeconds); // requests before this index are the warm-up
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  const start = performance.now();

  await new Promise<void>((resolve) => {
    let answered = 0;
    const answer = () => {
      if (++answered === total) resolve();
    };
    const send = (i: number, due: number, body: string) => {
      const req = request(
        { agent, hostname, port, path, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (i >= counted) {
              if (res.statusCode === undefined || res.statusCode >= 300) non2xx++;
              latencies.push(performance.now() - due);
            }
            answer();
          });
        },
      );
      req.on("error", () => {
        if (i >= counted) errors++;
        answer();
      });
      req.end(body);
    };
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
      for (; sent < due; sent++) send(sent, start + (sent * 1000) / rate, bodies[sent % bodies.length] as string);
      // A timer, not a busy loop: on two cores, spinning would take the service's CPU.
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => +(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
  return {
    requestsPerSecond: Math.round((total * 1000) / (performance.now() - start)),
    counted: latencies.length,
    p50ms: q(0.5),
    p99ms: q(0.99),
    maxms: q(1),
    non2xx,
    errors,
  };
}
