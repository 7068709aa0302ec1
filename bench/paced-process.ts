/**
 * The evenly spaced load as a process of its own, so the benchmark's own garbage collection cannot
 * delay its sends: tsx bench/paced-process.ts URL PREFIX RATE SECONDS sends the mix of
 * bench/payloads.ts (group names starting with PREFIX) and prints the result as one JSON line.
 */
import { pacedLoad } from "./paced.js";
import { ingestBodies } from "./payloads.js";

const [url, prefix, rate, seconds] = process.argv.slice(2);
const bodies = ingestBodies(20_000, prefix);
const result = await pacedLoad(url as string, "/webhooks/alertmanager", bodies, Number(rate), Number(seconds));
process.stdout.write(`${JSON.stringify(result)}\n`);
