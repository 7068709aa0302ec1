import { z } from "zod";
import { confluenceConfigSchema, createConfluenceKnowledgeBase } from "./confluence/driver.js";
import { createTiddlywikiKnowledgeBase, tiddlywikiConfigSchema } from "./tiddlywiki/driver.js";
import type { KnowledgeBaseDriver } from "./types.js";

/**
 * The `knowledge_base:` entry of the config file; `type` picks the knowledge base. The built-in one
 * (the default) is the store's archive, which is always kept: the others get every entry as well.
 * Adding a knowledge base: its schema here…
 */
export const builtinKnowledgeBaseSchema = z
  .object({ type: z.literal("builtin").describe("The store's own archive (the default): /api/kb, /kb and `alertdesk kb search`.") })
  .strict();

export const knowledgeBaseConfigSchema = z.discriminatedUnion("type", [builtinKnowledgeBaseSchema, confluenceConfigSchema, tiddlywikiConfigSchema]);
export type KnowledgeBaseConfig = z.infer<typeof knowledgeBaseConfigSchema>;

/** …and its factory here. Undefined for the built-in one: the store is the archive. */
export function createKnowledgeBase(config: KnowledgeBaseConfig, deps: { clock: () => Date }): KnowledgeBaseDriver | undefined {
  switch (config.type) {
    case "builtin":
      return undefined;
    case "confluence":
      return createConfluenceKnowledgeBase(config, deps);
    case "tiddlywiki":
      return createTiddlywikiKnowledgeBase(config, deps);
  }
}

/** What building the knowledge base would refuse (a missing secret file), for a positioned config error at start. */
export function knowledgeBaseProblem(config: KnowledgeBaseConfig | undefined): string | undefined {
  if (!config) return undefined;
  try {
    createKnowledgeBase(config, { clock: () => new Date() });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
