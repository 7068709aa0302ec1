/** The `KEY=VALUE` lines the shared start scripts (start-lab.sh, start-rt.sh) print on stdout. */
export function parseKeyValues(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split("\n")
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  ) as Record<string, string>;
}
