import axios from "axios";
import { describe, expect, it } from "vitest";
import { createRtDriver } from "../../src/drivers/rt/driver.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { startRt } from "../kit/rt.js";
import { describeDriverContract, openTicket } from "./contract.js";

/** The Request Tracker driver against the real RT 5 from Debian (started by the test, stopped after). */

describeDriverContract(
  "request tracker (real RT 5)",
  async () => {
    const rt = await startRt();
    const proxy = await startFaultProxy(rt.url);
    // A real RT on a slow, busy machine may take seconds per request: a minute each (only a broken RT
    // waits that long). The helpdesk that never answers is the proxy's, so a second is enough there.
    const config = { type: "rt", url: proxy.url, token: rt.token, queue: rt.queue, dedup_field: rt.dedupField } as const;
    const driver = createRtDriver("rt", { ...config, timeout: 60_000 });
    const api = axios.create({ baseURL: rt.restUrl, headers: { Authorization: `token ${rt.token}` }, timeout: 60_000 });
    return {
      driver,
      hangDriver: createRtDriver("rt", { ...config, timeout: 1000 }),
      proxy,
      secrets: [rt.token],
      missingId: "999999",
      async inspect(ref) {
        const t = await api.get<{ Status: string }>(`/ticket/${ref.id}`);
        const history = await api.get<{ items: { Type: string }[] }>(`/ticket/${ref.id}/history`, { params: { fields: "Type", per_page: 100 } });
        const status = t.data.Status === "resolved" ? "solved" : t.data.Status === "new" || t.data.Status === "open" ? "open" : "other";
        return { status, updates: history.data.items.filter((i) => i.Type === "Comment").length };
      },
      async countByKey(key) {
        const r = await api.get<{ total: number }>("/tickets", { params: { query: `'CF.{${rt.dedupField}}'='${key}'` } });
        return r.data.total;
      },
      async stop() {
        await proxy.close();
        await rt.stop();
      },
    };
  },
  // Installing RT (first run: minutes; the kit allows apt 15 min) and starting it (the kit: 5 min);
  // each test makes up to about 15 requests to RT.
  { setupTimeoutMs: 1_200_000, testTimeoutMs: 300_000 },
);

describe("request tracker specifics", () => {
  it("refuses a key that could break out of TicketSQL", async () => {
    const driver = createRtDriver("rt", { type: "rt", url: "http://127.0.0.1:1", token: "t0ken-value", queue: "General", dedup_field: "DedupKey" });
    await expect(driver.findByKey("x' OR 'a'='a")).rejects.toMatchObject({ retryable: false, reason: "client" });
    expect(openTicket().ticketKey).toMatch(/^[a-z0-9-]+$/);
  });
});
