import type { AxiosResponse } from "axios";
import { z } from "zod";
import { timeoutMs } from "../drivers/config.js";
import { createHttpClient, type HttpClient } from "../drivers/http.js";
import { DeliveryError } from "../model/delivery-error.js";
import { type AlertmanagerConfig, apiBaseUrl, resolveAuth } from "./config.js";

/**
 * Alertmanager API v2 (github.com/prometheus/alertmanager/blob/v0.25.0/api/v2/openapi.yaml), or
 * Grafana's Alertmanager-compatible copy of it: silences from agents' decisions, and the alerts
 * verification counts. Every call goes through the shared HTTP client, so 429, 5xx and timeouts are
 * retryable DeliveryErrors, other 4xx permanent, and no credential appears in a message.
 *
 * Facts of Alertmanager 0.25 this client is written against (checked on the real one in
 * test/alertmanagers/client.test.ts):
 * - POST /silences with an `id` updates that silence in place only when its matchers are unchanged and,
 *   while it is active, its startsAt is the same second; otherwise Alertmanager expires it and answers
 *   a new id. An id it does not know is a 404; an expired one is replaced by a new silence.
 * - POST /silences refuses an empty matcher list (422), a matcher list that matches the empty label
 *   set, a bad label name (400 `invalid label matcher 0: …`) and an end in the past (400).
 * - DELETE /silence/{id} of an id it does not know answers 500 `silence not found`; of an expired one, 200.
 * - `filter` is one matcher per parameter in Alertmanager's matcher syntax: `name="value"`, with
 *   `\\`, `\"` and `\n` escaped inside the quotes.
 */

/** Every silence alertdesk makes says so; findSilence only ever returns these. */
export const CREATED_BY = "alertdesk";

/** An equality matcher, the only kind alertdesk sends: a silence of exactly the incident's labels. */
export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: false;
  isEqual: true;
}

/** What a silence of alertdesk's says; `startsAt` defaults to now. */
export interface SilenceSpec {
  matchers: readonly SilenceMatcher[];
  startsAt?: Date;
  endsAt: Date;
  comment: string;
}

export type SilenceState = "active" | "pending" | "expired";

/** A silence as Alertmanager reports it (times as ISO strings). */
export interface Silence {
  id: string;
  state: SilenceState;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
}

/** An alert as Alertmanager holds it: `suppressed` when a silence or an inhibition mutes it, still firing. */
export interface AlertmanagerAlert {
  fingerprint: string;
  labels: Record<string, string>;
  state: "active" | "suppressed" | "unprocessed";
  silencedBy: string[];
  inhibitedBy: string[];
  startsAt: string;
  endsAt: string;
}

export interface AlertmanagerClient {
  readonly name: string;
  /** Creates a silence; resolves with its id. Refuses an empty matcher list before sending. */
  createSilence(spec: SilenceSpec): Promise<string>;
  /**
   * Updates silence `id` (extends it, changes its comment); resolves with the id Alertmanager answers,
   * which is a new one when it had to replace the silence. An active silence keeps its start, so an
   * extension stays in place. A silence that is gone or expired is a non-retryable `gone` error
   * (create a new one), except that a live silence of the same matchers and comment, the replacement a
   * previous attempt made, is updated instead: a retried update does not make a second silence.
   */
  updateSilence(id: string, spec: SilenceSpec): Promise<string>;
  /** Expires silence `id`; one that is already expired or unknown counts as done. */
  expireSilence(id: string): Promise<void>;
  /** The silence with this id, or undefined when Alertmanager does not know it. */
  getSilence(id: string): Promise<Silence | undefined>;
  /**
   * The newest live (active or pending) silence created by alertdesk whose comment carries `marker`
   * (as a whole word: `ad-1-1` is not found in `ad-1-12`), optionally narrowed to silences with these
   * matchers: after an unknown outcome, the outbox looks before it creates again.
   */
  findSilence(marker: string, options?: { matchers?: readonly SilenceMatcher[] }): Promise<Silence | undefined>;
  /** Every alert that matches, silenced, inhibited and unprocessed ones included: they still fire. */
  alerts(matchers: readonly SilenceMatcher[]): Promise<AlertmanagerAlert[]>;
}

/** The equality matchers of a label set, sorted by name: a silence of exactly these labels. */
export function matchersFor(labels: Readonly<Record<string, string>>): SilenceMatcher[] {
  return equalityMatchers(
    Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => ({ name, value })),
  );
}

/** Name/value pairs (a silence operation's, in its order) as Alertmanager's equality matchers. */
export function equalityMatchers(pairs: readonly { name: string; value: string }[]): SilenceMatcher[] {
  return pairs.map(({ name, value }) => ({ name, value, isRegex: false, isEqual: true }));
}

/** One `filter` parameter: `name="value"` with the escapes Alertmanager's matcher parser undoes. */
export function matcherFilter(m: Pick<SilenceMatcher, "name" | "value">): string {
  const value = m.value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `${m.name}="${value}"`;
}

/** The `filter` parameters of a query: one per matcher, repeated (not `filter[]`, as axios would write an array). */
function filterQuery(matchers: readonly SilenceMatcher[]): URLSearchParams {
  const query = new URLSearchParams();
  for (const m of matchers) query.append("filter", matcherFilter(m));
  return query;
}

/** A silence's comment: the ticket's key (findSilence's marker) and URL, and an optional note. */
export function silenceComment(ticketKey: string, ticketUrl: string | undefined, note?: string): string {
  return [`alertdesk ticket ${ticketKey}`, ticketUrl, note].filter((p) => p !== undefined && p !== "").join(" · ");
}

/** Whether `comment` carries `marker` as a whole word (not as part of a longer key). */
export function hasMarker(comment: string, marker: string): boolean {
  if (marker === "") return false;
  const word = /[A-Za-z0-9_-]/;
  for (let at = comment.indexOf(marker); at >= 0; at = comment.indexOf(marker, at + 1)) {
    const before = comment[at - 1];
    const after = comment[at + marker.length];
    if ((before === undefined || !word.test(before)) && (after === undefined || !word.test(after))) return true;
  }
  return false;
}

const gettableSilence = z.object({
  id: z.string(),
  status: z.object({ state: z.enum(["active", "pending", "expired"]) }),
  matchers: z.array(z.object({ name: z.string(), value: z.string(), isRegex: z.boolean(), isEqual: z.boolean().default(true) })),
  startsAt: z.string(),
  endsAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
  comment: z.string().default(""),
});
const postSilenceAnswer = z.object({ silenceID: z.string().min(1) });
const gettableAlert = z.object({
  fingerprint: z.string(),
  labels: z.record(z.string(), z.string()),
  status: z.object({
    state: z.enum(["active", "suppressed", "unprocessed"]),
    silencedBy: z.array(z.string()).default([]),
    inhibitedBy: z.array(z.string()).default([]),
  }),
  startsAt: z.string(),
  endsAt: z.string(),
});

function toSilence(s: z.infer<typeof gettableSilence>): Silence {
  return {
    id: s.id,
    state: s.status.state,
    matchers: s.matchers,
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    updatedAt: s.updatedAt,
    createdBy: s.createdBy,
    comment: s.comment,
  };
}

/** The same matchers in any order (Alertmanager keeps the order it was given). */
function sameMatchers(a: readonly Silence["matchers"][number][], b: readonly Silence["matchers"][number][]): boolean {
  const key = (ms: readonly Silence["matchers"][number][]) =>
    JSON.stringify(ms.map((m) => [m.name, m.value, m.isRegex, m.isEqual]).sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1)));
  return key(a) === key(b);
}

/**
 * Alertmanager's 400 names the matcher by its position (`invalid label matcher 0: invalid label name
 * "bad-name"`); the error says which field that is, `matchers[0].name`, so a dead letter reads well.
 */
function fieldOf(data: unknown): string | undefined {
  const text = typeof data === "string" ? data : JSON.stringify(data ?? "");
  const m = /invalid label matcher (\d+): (invalid label (name|value))?/.exec(text);
  if (!m) return undefined;
  return `matchers[${m[1]}]${m[3] ? `.${m[3]}` : ""}`;
}

export function createAlertmanagerClient(name: string, config: AlertmanagerConfig, deps: { clock?: () => Date } = {}): AlertmanagerClient {
  const clock = deps.clock ?? (() => new Date());
  const auth = resolveAuth(config);
  const label = `alertmanager ${name}`;
  const http: HttpClient = createHttpClient({
    name: label,
    baseURL: apiBaseUrl(config),
    headers: { ...auth.headers, "Content-Type": "application/json" },
    timeoutMs: timeoutMs(config.timeout),
    secrets: auth.secrets,
    clock,
  });

  /** A refusal before anything is sent: retrying the same request cannot help. */
  const refused = (what: string, why: string) =>
    new DeliveryError(`[${label}] ${what}: refused before sending: ${why}`, { retryable: false, reason: "client" });

  /** A 2xx answer that does not say what API v2 says: the outcome is unknown, so a retry (which looks first) may help. */
  const unexpected = (what: string, res: AxiosResponse, err: z.ZodError) =>
    new DeliveryError(`[${label}] ${what}: ${res.status} with an unexpected body (${err.issues[0]?.message ?? "invalid"})`, {
      retryable: true,
      reason: "server",
    });

  function parse<T>(what: string, res: AxiosResponse, schema: z.ZodType<T>): T {
    const parsed = schema.safeParse(res.data);
    if (!parsed.success) throw unexpected(what, res, parsed.error);
    return parsed.data;
  }

  /** A failure answer, with the field Alertmanager's 400 means when it names one. */
  function failure(what: string, res: AxiosResponse): DeliveryError {
    const field = res.status === 400 ? fieldOf(res.data) : undefined;
    return http.failure(field ? `${what}: ${field}` : what, res);
  }

  function checkMatchers(what: string, matchers: readonly SilenceMatcher[]): void {
    if (matchers.length === 0) throw refused(what, "no matchers (a silence or a query without matchers would cover every alert)");
    matchers.forEach((m, i) => {
      if (m.isRegex !== false || m.isEqual !== true) throw refused(what, `matchers[${i}]: only equality matchers (isRegex false, isEqual true) are sent`);
      if (typeof m.name !== "string" || typeof m.value !== "string") throw refused(what, `matchers[${i}]: name and value must be strings`);
    });
  }

  function silenceBody(what: string, spec: SilenceSpec, startsAt: string): Record<string, unknown> {
    checkMatchers(what, spec.matchers);
    if (spec.matchers.every((m) => m.value === "")) {
      throw refused(what, 'every matcher is name="" (matches alerts without those labels, so it would cover nearly every alert)');
    }
    const endsAt = spec.endsAt.getTime();
    if (Number.isNaN(endsAt)) throw refused(what, "endsAt is not a valid time");
    if (endsAt <= Date.parse(startsAt)) throw refused(what, `endsAt ${spec.endsAt.toISOString()} is not after startsAt ${startsAt}`);
    return {
      matchers: spec.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: false, isEqual: true })),
      startsAt,
      endsAt: spec.endsAt.toISOString(),
      createdBy: CREATED_BY,
      comment: spec.comment,
    };
  }

  const silencePath = (id: string) => `/silence/${encodeURIComponent(id)}`;

  async function getSilence(id: string): Promise<Silence | undefined> {
    const what = `get silence ${id}`;
    const res = await http.raw(what, { method: "GET", url: silencePath(id) });
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status >= 300) throw failure(what, res);
    return toSilence(parse(what, res, gettableSilence));
  }

  async function listSilences(what: string, matchers: readonly SilenceMatcher[] | undefined): Promise<Silence[]> {
    const qs = filterQuery(matchers ?? []).toString();
    const res = await http.raw(what, { method: "GET", url: `/silences${qs ? `?${qs}` : ""}` });
    if (res.status < 200 || res.status >= 300) throw failure(what, res);
    return parse(what, res, z.array(gettableSilence)).map(toSilence);
  }

  async function postSilence(what: string, body: Record<string, unknown>): Promise<string> {
    const res = await http.raw(what, { method: "POST", url: "/silences", data: body });
    if (res.status === 404 && body.id !== undefined) {
      // Alertmanager no longer knows the id (garbage-collected after its retention).
      throw http.failure(what, res, { retryable: false, reason: "gone" });
    }
    if (res.status < 200 || res.status >= 300) throw failure(what, res);
    return parse(what, res, postSilenceAnswer).silenceID;
  }

  const live = (s: Silence) => s.state !== "expired" && s.createdBy === CREATED_BY;
  const newestFirst = (a: Silence, b: Silence) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt);

  return {
    name,

    async createSilence(spec) {
      const what = "create silence";
      const start = spec.startsAt ?? clock();
      if (Number.isNaN(start.getTime())) throw refused(what, "startsAt is not a valid time");
      const startsAt = start.toISOString();
      return postSilence(what, silenceBody(what, spec, startsAt));
    },

    async updateSilence(id, spec) {
      const what = `update silence ${id}`;
      // Checked before the first request: an update that cannot be sent must not look anything up.
      if (spec.startsAt !== undefined && Number.isNaN(spec.startsAt.getTime())) throw refused(what, "startsAt is not a valid time");
      silenceBody(what, spec, (spec.startsAt ?? new Date(0)).toISOString());
      let target = await getSilence(id);
      if (target === undefined) {
        throw new DeliveryError(`[${label}] ${what}: Alertmanager does not know it (create a new silence)`, { retryable: false, reason: "gone" });
      }
      if (target.state === "expired") {
        const replacement = (await listSilences(what, spec.matchers))
          .filter((s) => live(s) && s.comment === spec.comment && sameMatchers(s.matchers, spec.matchers))
          .sort(newestFirst)[0];
        if (replacement === undefined) {
          throw new DeliveryError(`[${label}] ${what}: it has expired (create a new silence)`, { retryable: false, reason: "gone" });
        }
        target = replacement;
      }
      // An active silence keeps its exact start: Alertmanager updates it in place only then.
      const startsAt = target.state === "active" ? target.startsAt : (spec.startsAt?.toISOString() ?? target.startsAt);
      return postSilence(what, { id: target.id, ...silenceBody(what, spec, startsAt) });
    },

    async expireSilence(id) {
      const what = `expire silence ${id}`;
      const res = await http.raw(what, { method: "DELETE", url: silencePath(id) });
      if (res.status >= 200 && res.status < 300) return;
      // Alertmanager 0.25 answers an unknown id with 500 "silence not found"; newer ones and Grafana
      // may say 404 or "already expired". Each means the silence silences nothing: done.
      if (res.status === 404) return;
      if (/silence not found|already expired/i.test(typeof res.data === "string" ? res.data : JSON.stringify(res.data ?? ""))) return;
      throw failure(what, res);
    },

    getSilence,

    async findSilence(marker, options = {}) {
      const what = `find silence ${JSON.stringify(marker)}`;
      if (marker.trim() === "") throw refused(what, "an empty marker would match any silence");
      if (options.matchers) checkMatchers(what, options.matchers);
      const found = (await listSilences(what, options.matchers)).filter((s) => live(s) && hasMarker(s.comment, marker)).sort(newestFirst);
      return found[0];
    },

    async alerts(matchers) {
      const what = "list alerts";
      checkMatchers(what, matchers);
      const query = filterQuery(matchers);
      for (const flag of ["silenced", "inhibited", "active", "unprocessed"]) query.append(flag, "true");
      const res = await http.raw(what, { method: "GET", url: `/alerts?${query.toString()}` });
      if (res.status < 200 || res.status >= 300) throw failure(what, res);
      return parse(what, res, z.array(gettableAlert)).map((a) => ({
        fingerprint: a.fingerprint,
        labels: a.labels,
        state: a.status.state,
        silencedBy: a.status.silencedBy,
        inhibitedBy: a.status.inhibitedBy,
        startsAt: a.startsAt,
        endsAt: a.endsAt,
      }));
    },
  };
}
