import type { CommentUpdate } from "../drivers/types.js";
import { higherPriority } from "../rules/priority.js";

/**
 * Folds consecutive comments queued for one ticket into one (oldest first), so a burst of changes
 * (a storm, or updates that waited behind a create or an outage) costs one helpdesk call, not one
 * per notification: Zendesk allows 30 updates per ticket per 10 minutes. The highest priority wins.
 */
export function mergeComments(comments: readonly CommentUpdate[]): CommentUpdate {
  const [first, ...rest] = comments;
  if (!first) throw new Error("mergeComments: nothing to merge");
  if (rest.length === 0) return first;
  const body = comments.flatMap((c, i) => (i === 0 ? c.body : [{ kind: "paragraph" as const, text: "———" }, ...c.body]));
  const priorities = comments.map((c) => c.priority).filter((p) => p !== undefined);
  const merged: CommentUpdate = { op: "comment", body };
  if (priorities.length > 0) merged.priority = priorities.reduce((a, b) => higherPriority(a, b));
  return merged;
}
