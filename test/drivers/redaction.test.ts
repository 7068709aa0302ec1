import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpClient, secretForms } from "../../src/drivers/http.js";
import { createWebhookDriver } from "../../src/drivers/webhook/driver.js";
import type { DeliveryError } from "../../src/model/delivery-error.js";

/**
 * Helpdesks that echo the request (Jira Data Center put the Authorization header in its error body)
 * must not leak a credential through the error text: masked before the excerpt is cut, in every form.
 */

let server: Server;
let base: string;
let padding = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    // An error body that echoes the Authorization header after `padding` characters.
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(`${"x".repeat(padding)}Authorization: ${req.headers.authorization ?? ""} and the rest of a long error`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Every run of `min` characters of `secret` that appears in `text`. */
function fragments(text: string, secret: string, min = 6): string[] {
  const found: string[] = [];
  for (let i = 0; i + min <= secret.length; i++) if (text.includes(secret.slice(i, i + min))) found.push(secret.slice(i, i + min));
  return found;
}

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    return err as DeliveryError;
  }
  throw new Error("expected a failure");
}

describe("credentials in delivery errors", () => {
  const token = "tok_9f8e7d6c5b4a39281706f5e4";
  it.each([0, 280, 285, 290, 295, 299, 305])("a token echoed at offset %i, across the 300-character cut, leaves no fragment", async (offset) => {
    padding = offset;
    const http = createHttpClient({ name: "jira dc", baseURL: base, headers: { Authorization: `Bearer ${token}` }, secrets: [token] });
    const err = await failure(http.request("create issue", { method: "POST", url: "/" }));
    expect(err.message).toMatch(/^\[jira dc\] create issue: 400/);
    expect(fragments(err.message, token)).toEqual([]);
  });

  it("a webhook URL with user:password@ is sent as Basic auth, and neither the password nor the header leaks", async () => {
    padding = 290;
    const password = "hunter2-long-password";
    const url = `${base.replace("http://", `http://hook-user:${password}@`)}/tickets`;
    const driver = createWebhookDriver("hook", { type: "webhook", url });
    const err = await failure(driver.comment({ id: "1" }, { op: "comment", body: [] }, { idempotencyKey: "k", attempt: 1, ticketKey: "ad-x-1" }));
    const basic = Buffer.from(`hook-user:${password}`).toString("base64");
    expect(err.message).toContain("400");
    expect(fragments(err.message, password)).toEqual([]);
    expect(fragments(err.message, basic)).toEqual([]);
  });

  it("the forms masked: as given, URL-encoded, JSON-escaped, and a URL's password and Basic header", () => {
    const forms = secretForms(['s3c"ret/=+'], "https://u:p%40ssw0rd@example.test/");
    expect(forms).toEqual(
      expect.arrayContaining(['s3c"ret/=+', "s3c%22ret%2F%3D%2B", 's3c\\"ret/=+', "p%40ssw0rd", "p@ssw0rd", Buffer.from("u:p@ssw0rd").toString("base64")]),
    );
  });
});
