/**
 * TiddlyWiki's own string formats, as tiddlywiki 5.4.1 reads and writes them (boot/boot.js,
 * core/modules/utils/utils.js): lists (a tiddler's `tags` is one string in list syntax) and dates.
 */

/** `[[with space]] plain`: brackets only around an item with white space, as $tw.utils.stringifyList does. */
export function stringifyList(items: readonly string[]): string {
  return items.map((item) => (/[^\S\xA0]/.test(item) ? `[[${item}]]` : item)).join(" ");
}

/** The items of a list string, as $tw.utils.parseStringArray reads them (duplicates dropped). */
export function parseList(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/(?:^|[^\S\xA0])(?:\[\[(.*?)\]\])(?=[^\S\xA0]|$)|([\S\xA0]+)/gm)) {
    const item = m[1] ?? m[2];
    if (item !== undefined && !out.includes(item)) out.push(item);
  }
  return out;
}

/** Whether TiddlyWiki reads the list back as exactly these items (`a]] b` or `[[x]]` as one item cannot be written). */
export function listRoundTrips(items: readonly string[]): boolean {
  const back = parseList(stringifyList(items));
  return items.every((item) => item !== "") && back.length === items.length && back.every((item, i) => item === items[i]);
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** TiddlyWiki's date format, YYYYMMDDHHMMSSmmm in UTC (created, modified). */
export function tiddlywikiDate(date: Date): string {
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}${pad(date.getUTCMilliseconds(), 3)}`;
}
