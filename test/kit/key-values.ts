/** `KEY=VALUE` lines on stdout (test/rt/bootstrap.pl prints `RT_TOKEN=…`), as a record. */
export function parseKeyValues(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split("\n")
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  ) as Record<string, string>;
}
