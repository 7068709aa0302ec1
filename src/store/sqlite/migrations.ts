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
  // The way back: agents' events per ticket, poll cursors and leases, doorbells, due verifications;
  // the built-in helpdesk's agents (assignee, resolution, first response, comment authors, activity).
  `
  ALTER TABLE incidents ADD COLUMN verify_at INTEGER;
  CREATE INDEX incidents_verify ON incidents (verify_at) WHERE verify_at IS NOT NULL;
  ALTER TABLE incidents ADD COLUMN escalate_at INTEGER;
  CREATE INDEX incidents_escalate ON incidents (escalate_at) WHERE escalate_at IS NOT NULL;
  CREATE INDEX incidents_ticket ON incidents (helpdesk, ticket_id);

  CREATE TABLE helpdesk_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    helpdesk TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (helpdesk, event_id)
  );
  CREATE INDEX helpdesk_events_incident ON helpdesk_events (incident_id, id);

  CREATE TABLE helpdesk_sync (
    helpdesk TEXT PRIMARY KEY,
    cursor TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    synced_at TEXT,
    last_error TEXT
  );

  CREATE TABLE helpdesk_doorbells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    helpdesk TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    received_at INTEGER NOT NULL,
    done_at INTEGER,
    UNIQUE (helpdesk, delivery_id, ticket_id)
  );
  CREATE INDEX helpdesk_doorbells_due ON helpdesk_doorbells (state, next_attempt_at);

  CREATE TABLE alertmanager_silences (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    alertmanager TEXT NOT NULL,
    silence_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (incident_id, alertmanager)
  );

  ALTER TABLE builtin_tickets ADD COLUMN assignee TEXT;
  ALTER TABLE builtin_tickets ADD COLUMN resolution TEXT;
  ALTER TABLE builtin_tickets ADD COLUMN first_response_at TEXT;
  ALTER TABLE builtin_tickets ADD COLUMN follow_up_of INTEGER;
  ALTER TABLE builtin_comments ADD COLUMN author TEXT NOT NULL DEFAULT 'alertdesk';
  ALTER TABLE builtin_comments ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE builtin_activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES builtin_tickets (id),
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX builtin_activity_ticket ON builtin_activity (ticket_id, id);
  CREATE INDEX builtin_tickets_follow_up ON builtin_tickets (follow_up_of) WHERE follow_up_of IS NOT NULL;
  `,
  // The archive: one knowledge-base entry per incident that is over, with full-text search (FTS5,
  // Porter stemming) and the labels indexed for the similar-incidents lookup on new tickets.
  `
  ALTER TABLE incidents ADD COLUMN archive_at INTEGER;
  CREATE INDEX incidents_archive ON incidents (archive_at) WHERE archive_at IS NOT NULL;
  CREATE TABLE kb_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL UNIQUE REFERENCES incidents (id),
    alertname TEXT,
    labels TEXT NOT NULL,
    title TEXT NOT NULL,
    ticket_key TEXT NOT NULL,
    ticket_id TEXT,
    ticket_url TEXT,
    started_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    has_resolution BOOLEAN NOT NULL,
    resolution_line TEXT NOT NULL,
    external_url TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX kb_entries_alertname ON kb_entries (alertname, id);
  -- The entry's text apart from its narrow row: the similar-incidents look-up reads many rows and never the text.
  CREATE TABLE kb_documents (
    entry_id INTEGER PRIMARY KEY REFERENCES kb_entries (id),
    data TEXT NOT NULL
  );
  CREATE TABLE kb_labels (
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES kb_entries (id),
    PRIMARY KEY (name, value, entry_id)
  ) WITHOUT ROWID;
  CREATE INDEX kb_labels_entry ON kb_labels (entry_id);
  CREATE VIRTUAL TABLE kb_fts USING fts5(title, keywords, resolution, body, tokenize = 'porter unicode61');
  `,
  // Delivery order under a rate limit: the claim takes due rows by rank (model/ticket-operation.ts), aged.
  `
  ALTER TABLE outbox ADD COLUMN rank INTEGER NOT NULL DEFAULT 6;
  `,
];
