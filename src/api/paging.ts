import { z } from "zod";

/**
 * Every list endpoint answers one page, newest first: `?limit=` rows (default 100; more than 1,000
 * is read as 1,000) and fewer once the rows' stored text passes 1 MiB, so that no answer grows with
 * what is stored and one read cannot hold the event loop (and the webhooks behind it) for long:
 * some 20 ms for a full page (the first row always comes, however large).
 * `?before=` is the cursor: the answer's `next`, present when a following page exists.
 */
export const PAGE = { defaultLimit: 100, maxLimit: 1000, maxBytes: 1024 * 1024 } as const;

export const pageParams = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .default(PAGE.defaultLimit)
    .transform((n) => Math.min(n, PAGE.maxLimit)),
  before: z.coerce.number().int().positive().optional(),
};

/** The store's page query of validated parameters. */
export function pageQuery(q: { limit: number; before?: number | undefined }): { limit: number; before?: number; maxBytes: number } {
  return { limit: q.limit, maxBytes: PAGE.maxBytes, ...(q.before !== undefined ? { before: q.before } : {}) };
}

/** `{"<name>": [...]}`, and `next` when there is a following page. */
export function pageAnswer<T>(name: string, items: T[], next: number | null): Record<string, unknown> {
  return next === null ? { [name]: items } : { [name]: items, next };
}
