import { z } from "zod";
import type { BuiltinTicketBook } from "../model/builtin-tickets.js";
import { createBuiltinDriver } from "./builtin/driver.js";
import type { DriverFactoryDeps } from "./config.js";
import { createJiraDriver, jiraConfigSchema } from "./jira/driver.js";
import { createRtDriver, rtConfigSchema } from "./rt/driver.js";
import { createServicenowDriver, servicenowConfigSchema } from "./servicenow/driver.js";
import type { HelpdeskDriver } from "./types.js";
import { createWebhookDriver, webhookConfigSchema } from "./webhook/driver.js";
import { createZendeskDriver, zendeskConfigSchema } from "./zendesk/driver.js";

/** One helpdesk entry of the config file; `type` picks the driver. Adding a helpdesk type: its schema here… */
export const helpdeskConfigSchema = z.discriminatedUnion("type", [
  zendeskConfigSchema,
  jiraConfigSchema,
  servicenowConfigSchema,
  rtConfigSchema,
  webhookConfigSchema,
]);
export type HelpdeskConfig = z.infer<typeof helpdeskConfigSchema>;

export interface DriverDeps extends DriverFactoryDeps {
  builtinBook: BuiltinTicketBook;
  clock: () => Date;
}

/** …and its factory here. */
function createDriver(name: string, config: HelpdeskConfig, deps: DriverDeps): HelpdeskDriver {
  switch (config.type) {
    case "zendesk":
      return createZendeskDriver(name, config, deps);
    case "jira":
      return createJiraDriver(name, config, deps);
    case "servicenow":
      return createServicenowDriver(name, config, deps);
    case "rt":
      return createRtDriver(name, config, deps);
    case "webhook":
      return createWebhookDriver(name, config, deps);
  }
}

/**
 * What is wrong with each configured helpdesk, by building its driver the way `serve` does (secrets
 * read, URLs and options checked), without connecting anywhere: `check` and config loading report
 * every problem before `serve` meets the first.
 */
export function helpdeskProblems(helpdesks: Record<string, HelpdeskConfig>, clock: () => Date = () => new Date()): { helpdesk: string; message: string }[] {
  const problems: { helpdesk: string; message: string }[] = [];
  const noBook: BuiltinTicketBook = new Proxy({} as BuiltinTicketBook, {
    get() {
      throw new Error("the built-in ticket book is not available while checking a config");
    },
  });
  for (const [name, config] of Object.entries(helpdesks)) {
    if (name === "builtin") {
      problems.push({ helpdesk: name, message: 'the name "builtin" is taken by the built-in helpdesk' });
      continue;
    }
    try {
      createDriver(name, config, { builtinBook: noBook, clock });
    } catch (err) {
      problems.push({ helpdesk: name, message: (err as Error).message });
    }
  }
  return problems;
}

/** Every configured helpdesk by name. `builtin` always exists. Throws an Error naming a helpdesk whose config is unusable. */
export function createDriverRegistry(deps: DriverDeps, helpdesks: Record<string, HelpdeskConfig> = {}): Map<string, HelpdeskDriver> {
  const drivers = new Map<string, HelpdeskDriver>();
  drivers.set("builtin", createBuiltinDriver({ book: deps.builtinBook, clock: deps.clock }));
  for (const [name, config] of Object.entries(helpdesks)) {
    if (name === "builtin") throw new Error('helpdesks.builtin: the name "builtin" is taken by the built-in helpdesk');
    try {
      drivers.set(name, createDriver(name, config, deps));
    } catch (err) {
      throw new Error(`helpdesks.${name}: ${(err as Error).message}`);
    }
  }
  return drivers;
}
