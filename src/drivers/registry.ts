import type { ConfigFile } from "../config/service.js";
import type { BuiltinTicketBook } from "./builtin/book.js";
import { createBuiltinDriver } from "./builtin/driver.js";
import type { HelpdeskDriver } from "./types.js";

export interface DriverDeps {
  builtinBook: BuiltinTicketBook;
  clock: () => Date;
}

/** The helpdesk names a config file makes available to rules: `builtin` always. */
export function configuredHelpdesks(_config: ConfigFile): string[] {
  return ["builtin"];
}

/** Every configured helpdesk by name. `builtin` always exists. Adding a helpdesk type is one line here. */
export function createDriverRegistry(deps: DriverDeps): Map<string, HelpdeskDriver> {
  const drivers = new Map<string, HelpdeskDriver>();
  drivers.set("builtin", createBuiltinDriver({ book: deps.builtinBook, clock: deps.clock }));
  return drivers;
}
