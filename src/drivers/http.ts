import axios, { type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from "axios";
import type { FailureReason } from "../model/delivery-error.js";
import { DeliveryError } from "../model/delivery-error.js";
import type { RateLimiter } from "./rate-limit.js";

/**
 * The one HTTP layer of every HTTP driver: a client with timeouts, one classification of failures
 * (2xx ok; 429, 5xx and network errors retry; other 4xx do not, auth separately), Retry-After parsed,
 * and error messages that carry the driver's prefix and never a credential.
 */

/** Parses Retry-After (seconds, or an HTTP date) into milliseconds from now; undefined when absent or bad. */
export function parseRetryAfter(value: string | undefined | null, now: Date): number | undefined {
  if (value === undefined || value === null || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** Whether a status is worth retrying, and why it failed. */
export function classifyStatus(status: number): { retryable: boolean; reason: FailureReason } {
  if (status === 429) return { retryable: true, reason: "rateLimited" };
  if (status === 401 || status === 403) return { retryable: false, reason: "auth" };
  if (status === 408) return { retryable: true, reason: "timeout" };
  if (status >= 500) return { retryable: true, reason: "server" };
  return { retryable: false, reason: "client" };
}

/** Replaces every secret in a text with `<secret>`, longest first (one secret may contain another). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s.length >= 4) out = out.split(s).join("<secret>");
  return out;
}

/**
 * Every form in which a credential can come back in an answer or an error: as given, URL-encoded,
 * escaped inside JSON, and, for a URL with `user:password@`, the password and the Basic header axios
 * makes of it. A helpdesk that echoes the Authorization header must not leak any of them.
 */
export function secretForms(secrets: readonly string[], baseURL: string): string[] {
  const forms = new Set<string>();
  const add = (s: string) => {
    if (s.length < 4) return;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(s).slice(1, -1));
  };
  for (const s of secrets) add(s);
  try {
    const url = new URL(baseURL);
    if (url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      add(url.password);
      add(password);
      add(Buffer.from(`${user}:${password}`).toString("base64"));
    }
  } catch {
    // Not a URL: the driver's config schema says so elsewhere.
  }
  return [...forms];
}

/** The start of an answer's body for an error message: masked first, then cut, so no cut can split a secret. */
function bodyExcerpt(data: unknown, secrets: readonly string[]): string {
  if (data === undefined || data === null || data === "") return "";
  const text = redact(typeof data === "string" ? data : JSON.stringify(data), secrets);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export interface HttpClientOptions {
  /** Driver name for messages: `[zendesk]`. */
  name: string;
  baseURL: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Values that must never appear in an error message. */
  secrets?: readonly string[];
  clock?: () => Date;
  /** Paces every request and pauses them all after a 429 with Retry-After. */
  limiter?: RateLimiter;
}

export interface RawOptions {
  /**
   * A 429 whose Retry-After is longer than this is the resource's own limit, not the helpdesk's
   * (Zendesk: 30 updates of one ticket per 10 minutes): the request's operation waits, the other
   * requests do not.
   */
  ownLimitBeyondMs?: number;
}

export interface HttpClient {
  /** Sends a request; resolves with 2xx responses, throws a classified DeliveryError otherwise. */
  request<T = unknown>(what: string, config: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  /** Sends a request and returns any response (the caller classifies), throwing only on network errors. */
  raw<T = unknown>(what: string, config: AxiosRequestConfig, options?: RawOptions): Promise<AxiosResponse<T>>;
  /** The classified error for a response the caller decided is a failure. */
  failure(what: string, res: AxiosResponse, override?: Partial<{ retryable: boolean; reason: FailureReason }>): DeliveryError;
}

/** Creates a driver's HTTP client. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const clock = options.clock ?? (() => new Date());
  const secrets = secretForms(options.secrets ?? [], options.baseURL);
  const instance: AxiosInstance = axios.create({
    baseURL: options.baseURL.replace(/\/+$/, ""),
    timeout: options.timeoutMs ?? 10_000,
    headers: { Accept: "application/json", "User-Agent": "alertdesk", ...options.headers },
    validateStatus: () => true,
    maxRedirects: 0,
    // Keep error messages and bodies small and free of surprises.
    maxContentLength: 10 * 1024 * 1024,
    transitional: { clarifyTimeoutError: true },
  });

  const message = (what: string, detail: string) => redact(`[${options.name}] ${what}: ${detail}`, secrets);

  function failure(what: string, res: AxiosResponse, override: Partial<{ retryable: boolean; reason: FailureReason }> = {}): DeliveryError {
    const c = { ...classifyStatus(res.status), ...override };
    const retryAfterMs = parseRetryAfter(res.headers["retry-after"] as string | undefined, clock());
    const excerpt = bodyExcerpt(res.data, secrets);
    return new DeliveryError(message(what, `${res.status}${excerpt ? ` ${excerpt}` : ""}`), {
      retryable: c.retryable,
      reason: c.reason,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }

  async function raw<T>(what: string, config: AxiosRequestConfig, rawOptions: RawOptions = {}): Promise<AxiosResponse<T>> {
    const answered = (await options.limiter?.take()) ?? (() => {});
    try {
      const res = await instance.request<T>(config);
      if (res.status === 429 || res.status === 503) {
        const retryAfterMs = parseRetryAfter(res.headers["retry-after"] as string | undefined, clock());
        const own = res.status === 429 && rawOptions.ownLimitBeyondMs !== undefined && (retryAfterMs ?? 0) > rawOptions.ownLimitBeyondMs;
        if (retryAfterMs !== undefined && !own) options.limiter?.pause(retryAfterMs);
      }
      return res;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const timeout = e.code === "ETIMEDOUT" || e.code === "ECONNABORTED";
      // The outcome of a request that timed out or lost its connection is unknown: the outbox looks
      // the ticket up by its key before creating again.
      throw new DeliveryError(message(what, timeout ? "timed out" : `network error ${e.code ?? e.message ?? "unknown"}`), {
        retryable: true,
        reason: timeout ? "timeout" : "network",
      });
    } finally {
      answered();
    }
  }

  return {
    raw,
    failure,
    async request<T>(what: string, config: AxiosRequestConfig): Promise<AxiosResponse<T>> {
      const res = await raw<T>(what, config);
      if (res.status >= 200 && res.status < 300) return res;
      throw failure(what, res);
    },
  };
}
