import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCREENSHOT_DIR, startBrowser, type TestBrowser } from "../kit/browser.js";

/**
 * The browser kit itself (test/kit/browser.ts): Debian's Chromium, installed when missing and
 * driven headless by playwright-core, loads pages from a tiny node:http server on loopback. A
 * well-behaved page is read, filled in by its label, clicked and photographed, and has no errors. A
 * misbehaving page's console.error and uncaught exception land in the kit's `errors`. The server and
 * the browser are stopped at the end, and nothing of the browser is left running.
 */

const GOOD = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>alertdesk kit check</title><link rel="icon" href="data:,"></head>
<body>
  <h1>Alert console</h1>
  <form id="ack">
    <label for="who">Acknowledged by</label>
    <input id="who" name="who" type="text">
    <button type="submit">Acknowledge</button>
  </form>
  <p id="status">not acknowledged</p>
  <p id="booted"></p>
  <script src="/app.js"></script>
</body>
</html>`;

const APP = `document.getElementById("booted").textContent = "script ran";
document.getElementById("ack").addEventListener("submit", (event) => {
  event.preventDefault();
  const who = document.getElementById("who").value;
  document.getElementById("status").textContent = "acknowledged by " + who;
});`;

const BAD = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>broken</title><link rel="icon" href="data:,"></head>
<body>
  <h1>Broken page</h1>
  <script>console.error("deliberate console error");</script>
  <script>throw new Error("deliberate uncaught error");</script>
</body>
</html>`;

const PAGES: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: GOOD },
  "/app.js": { type: "text/javascript; charset=utf-8", body: APP },
  "/bad": { type: "text/html; charset=utf-8", body: BAD },
};

let server: Server | undefined;
let base = "";
let kit: TestBrowser | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    const page = PAGES[new URL(req.url ?? "/", "http://x").pathname];
    if (!page) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": page.type, "cache-control": "no-store" }).end(page.body);
  });
  await new Promise<void>((resolve, reject) => {
    server?.once("error", reject);
    server?.listen(0, "127.0.0.1", resolve);
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The first run may install Chromium (apt): minutes on a slow machine.
  kit = await startBrowser();
}, 600_000);

afterAll(async () => {
  await kit?.close();
  await new Promise<void>((resolve) => {
    server?.closeAllConnections();
    if (server?.listening) server.close(() => resolve());
    else resolve();
  });
}, 120_000);

function browser(): TestBrowser {
  if (!kit) throw new Error("the browser did not start");
  return kit;
}

describe("the browser kit", () => {
  it("runs Debian's Chromium", () => {
    expect(browser().version).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(browser().browser.isConnected()).toBe(true);
  });

  it("loads a page, fills a field by its label, clicks, sees the script's effect and takes a screenshot, without errors", async () => {
    const { page, errors } = await browser().newPage();
    await page.goto(`${base}/`);
    await expect.poll(() => page.locator("#booted").textContent(), { timeout: 60_000 }).toBe("script ran");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Alert console");

    await page.getByLabel("Acknowledged by").fill("Ada Lovelace");
    await page.getByRole("button", { name: "Acknowledge" }).click();
    await expect.poll(() => page.locator("#status").textContent(), { timeout: 60_000 }).toBe("acknowledged by Ada Lovelace");

    const path = await browser().screenshot(page, "browser-kit good page");
    expect(path).toBe(`${SCREENSHOT_DIR}browser-kit-good-page.png`);
    expect(existsSync(path)).toBe(true);
    const png = readFileSync(path);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(1000);

    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("collects a page's console.error and its uncaught exception", async () => {
    const { page, errors } = await browser().newPage();
    await page.goto(`${base}/bad`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Broken page");
    // Both events come over CDP separately from the navigation; wait for them rather than assume.
    await expect.poll(() => errors.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^console\.error: deliberate console error/),
        expect.stringMatching(/^pageerror: deliberate uncaught error/),
      ]),
    );
    expect(errors).toHaveLength(2);
    await page.close();
  }, 120_000);
});
