import axios from "axios";
import { describe, expect, it } from "vitest";
import { createRtDriver } from "../../src/drivers/rt/driver.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { startRt } from "../kit/rt.js";
import { describeDriverContract, openTicket } from "./contract.js";

/** The Request Tracker driver against the real RT 5 from Debian (started by the test, stopped after). */

describeDriverContract("request tracker (real RT 5)", async () => {
  const rt = await startRt();
  const proxy = await startFaultProxy(rt.url);
  const driver = createRtDriver("rt", { type: "rt", url: proxy.url, token: rt.token, queue: rt.queue, dedup_field: rt.dedupField, timeout: "2s" });
  const api = axios.create({ baseURL: rt.restUrl, headers: { Authorization: `token ${rt.token}` } });
  return {
    driver,
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
});

describe("request tracker specifics", () => {
  it("refuses a key that could break out of TicketSQL", async () => {
    const driver = createRtDriver("rt", { type: "rt", url: "http://127.0.0.1:1", token: "t0ken-value", queue: "General", dedup_field: "DedupKey" });
    await expect(driver.findByKey("x' OR 'a'='a")).rejects.toMatchObject({ retryable: false, reason: "client" });
    expect(openTicket().ticketKey).toMatch(/^[a-z0-9-]+$/);
  });
});
