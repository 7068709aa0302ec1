import { createHash } from "node:crypto";
import { z } from "zod";
import type { LabelSet } from "../model/alert.js";
import { cutMarker } from "../model/labels.js";

/**
 * The bounds every webhook intake keeps (docs/reliability.md, "Bounds at intake"), shared by the
 * Alertmanager and Grafana payloads (payloads.ts) and Zabbix's (zabbix.ts): what no sender produces
 * is refused with a 400 naming the field (a name over 1 KiB, more than 256 entries, a `__proto__`
 * key); a value that is merely long is cut, never refused, because a sender that does not retry a
 * 4xx would lose the alert: the cut value ends in a marker with its full size and a hash (so two long
 * values that differ only after the cut stay two values), and the answer lists the fields cut.
 */

const KiB = 1024;
export const INTAKE_LIMITS = {
  /** Bytes of a label, annotation or Grafana refId name; longer is refused. */
  nameBytes: 1 * KiB,
  /** Entries of one label set, annotation set or Grafana values map; more is refused. */
  entries: 256,
  /** Bytes of a label value (labels, groupLabels, commonLabels); longer is cut. */
  labelValueBytes: 16 * KiB,
  /** Bytes of an annotation value; longer is cut. */
  annotationValueBytes: 64 * KiB,
  /** Bytes of a URL (generatorURL, externalURL, Grafana's links); longer is cut. */
  urlBytes: 16 * KiB,
  /** Bytes of the group key, part of the incident's dedup key (an indexed column): longer is cut. */
  groupKeyBytes: 1 * KiB,
  /** Bytes of the receiver's name and of an alert's fingerprint; longer is cut. */
  shortBytes: 256,
} as const;

/** Keys that JavaScript treats specially on an ordinary object; `__proto__` is refused (JSON.parse makes it an own key, but copying it into an object sets the prototype instead). */
export const FORBIDDEN_NAME = "__proto__";

export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** UTF-8 bytes of a string, quickly when it is short. */
export function byteLength(s: string): number {
  return s.length <= 64 ? utf8.encode(s).length : Buffer.byteLength(s, "utf8");
}

/**
 * Cuts `s` to at most `maxBytes` of UTF-8 (on a character boundary), ending in a marker with the full
 * size and a hash of the whole value; undefined when it fits. The result is a fresh string, so the
 * long original (megabytes) is not kept alive by a slice of it.
 */
export function cutValue(s: string, maxBytes: number): string | undefined {
  if (s.length * 3 <= maxBytes) return undefined; // at most 3 bytes per UTF-16 unit: fits
  const bytes = Buffer.byteLength(s, "utf8");
  if (bytes <= maxBytes) return undefined;
  const marker = cutMarker(bytes, createHash("sha256").update(s, "utf8").digest("hex"));
  const room = new Uint8Array(Math.max(0, maxBytes - Buffer.byteLength(marker, "utf8")));
  const { written } = utf8.encodeInto(s, room);
  return fromUtf8.decode(room.subarray(0, written)) + marker;
}

/**
 * A map of names to values (labels, annotations, Grafana's values), checked key by key and built
 * without a prototype, so that a label named `constructor` or `toString` is a label like any other
 * and an absent one reads as undefined, never as Object.prototype's function.
 */
export function boundedMap<T>(what: string, value: (v: unknown) => { ok: true; value: T } | { ok: false; message: string }) {
  return z.unknown().transform((input, ctx): Record<string, T> => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      ctx.addIssue({ code: "custom", message: `expected an object of ${what}s, received ${typeName(input)}`, input });
      return z.NEVER;
    }
    const keys = Object.keys(input);
    if (keys.length > INTAKE_LIMITS.entries) {
      ctx.addIssue({ code: "custom", message: `${keys.length} ${what}s: at most ${INTAKE_LIMITS.entries} are accepted`, input: keys.length });
      return z.NEVER;
    }
    const out = Object.create(null) as Record<string, T>;
    let failed = false;
    for (const key of keys) {
      const fail = (message: string) => {
        ctx.addIssue({ code: "custom", message, path: [key], input: key });
        failed = true;
      };
      if (key === FORBIDDEN_NAME) {
        fail(`"__proto__" is not accepted as a ${what} name`);
        continue;
      }
      if (byteLength(key) > INTAKE_LIMITS.nameBytes) {
        fail(`${what} name longer than ${INTAKE_LIMITS.nameBytes} bytes`);
        continue;
      }
      const checked = value((input as Record<string, unknown>)[key]);
      if (!checked.ok) fail(checked.message);
      else out[key] = checked.value;
    }
    return failed ? z.NEVER : out;
  });
}

export const stringValue = (v: unknown) =>
  typeof v === "string" ? ({ ok: true, value: v } as const) : ({ ok: false, message: `expected a string, received ${typeName(v)}` } as const);
export const labelMap = boundedMap("label", stringValue);
export const annotationMap = boundedMap("annotation", stringValue);

/** Cuts the long values of one payload, remembering which fields were cut (for the answer and the log). */
export class Cutter {
  readonly fields: string[] = [];
  count = 0;
  value(s: string, maxBytes: number, field: string): string {
    const cut = cutValue(s, maxBytes);
    if (cut === undefined) return s;
    this.count++;
    if (this.fields.length < 20) this.fields.push(field);
    return cut;
  }
  map(m: LabelSet, maxBytes: number, field: string): LabelSet {
    for (const k of Object.keys(m)) m[k] = this.value(m[k] as string, maxBytes, `${field}.${k}`);
    return m;
  }
}

export function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}
