/** Versioned schema; each entry runs once, in order, in its own transaction. Never edit a released one. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ticket_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    priority TEXT NOT NULL,
    helpdesk TEXT NOT NULL,
    ticket_id TEXT,
    ticket_url TEXT,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (dedup_key, seq)
  );
  CREATE INDEX incidents_state ON incidents (state, id);

  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    helpdesk TEXT NOT NULL,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    done_at INTEGER
  );
  CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
  CREATE INDEX outbox_incident ON outbox (incident_id, state, id);

  CREATE TABLE builtin_tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    due_at TEXT NOT NULL,
    labels TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE builtin_comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES builtin_tickets (id),
    body TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
  );
  CREATE INDEX builtin_comments_ticket ON builtin_comments (ticket_id, id);
  `,
  // Routing from the rules (tags, assignee group, custom fields) on the built-in helpdesk's tickets.
  `
  ALTER TABLE builtin_tickets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE builtin_tickets ADD COLUMN assignee_group TEXT;
  ALTER TABLE builtin_tickets ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
  `,
  // The read API pages every list by id, also when it filters by state or status.
  `
  CREATE INDEX outbox_state ON outbox (state, id);
  CREATE INDEX builtin_tickets_status ON builtin_tickets (status, id);
  `,
];
