import { Liquid, type Template } from "liquidjs";

/**
 * Rule templates (`title`, `description`) in LiquidJS: no code execution, no file access (the
 * template store is an empty in-memory map, so `include`/`render` find nothing), unknown filters are
 * errors at load time, and parse/render/memory limits bound what a template can cost.
 */
const engine = new Liquid({
  templates: {},
  strictFilters: true,
  strictVariables: false,
  ownPropertyOnly: true,
  parseLimit: 100_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
});

/** A parsed template, ready to render many times. */
export interface CompiledTemplate {
  source: string;
  render(context: Record<string, unknown>): string;
}

/** Parses a template; throws an Error whose message carries liquid's `line:N, col:M`. */
export function compileTemplate(source: string): CompiledTemplate {
  const parsed: Template[] = engine.parse(source);
  return {
    source,
    render: (context) => engine.renderSync(parsed, context) as string,
  };
}

/** Where in the template a liquid error points (1-based), when it says. */
export function templateErrorPosition(err: unknown): { line: number; col: number } | undefined {
  const m = /line:(\d+), col:(\d+)/.exec(err instanceof Error ? err.message : String(err));
  return m ? { line: Number(m[1]), col: Number(m[2]) } : undefined;
}
