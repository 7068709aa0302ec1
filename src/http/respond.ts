import type { Response } from "express";
import type { z } from "zod";
import { formatPath } from "../model/field-path.js";

/** 400 with every problem as `{field, message}`, the field written the way users read it (`alerts[0].labels`). */
export function badRequest(res: Response, error: string, issues: readonly z.core.$ZodIssue[]): void {
  res.status(400).json({ error, issues: issues.map((i) => ({ field: formatPath(i.path), message: i.message })) });
}
