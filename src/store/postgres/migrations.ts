/**
 * Versioned PostgreSQL schema; each entry runs once, in order, in its own transaction, under an
 * advisory lock so replicas that start together migrate once. Never edit a released entry.
 * The tables mirror the SQLite ones (src/store/sqlite/migrations.ts).
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE incidents (
    id BIGSERIAL PRIMARY KEY,
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
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    helpdesk TEXT NOT NULL,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    done_at BIGINT
  );
  CREATE INDEX outbox_pending ON outbox (incident_id, id) WHERE state = 'pending';
  CREATE INDEX outbox_state ON outbox (state, id);

  CREATE TABLE builtin_tickets (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    due_at TEXT NOT NULL,
    labels TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    assignee_group TEXT,
    fields TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE builtin_comments (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES builtin_tickets (id),
    body TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
  );
  CREATE INDEX builtin_comments_ticket ON builtin_comments (ticket_id, id);
  `,
  // The read API pages the built-in helpdesk's tickets by id, also when it filters by status.
  `
  CREATE INDEX builtin_tickets_status ON builtin_tickets (status, id);
  `,
  // The way back (SQLite's migration 4 says what each table is for).
  `
  ALTER TABLE incidents ADD COLUMN verify_at BIGINT;
  CREATE INDEX incidents_verify ON incidents (verify_at) WHERE verify_at IS NOT NULL;
  ALTER TABLE incidents ADD COLUMN escalate_at BIGINT;
  CREATE INDEX incidents_escalate ON incidents (escalate_at) WHERE escalate_at IS NOT NULL;
  CREATE INDEX incidents_ticket ON incidents (helpdesk, ticket_id);

  CREATE TABLE helpdesk_events (
    id BIGSERIAL PRIMARY KEY,
    helpdesk TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
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
    lease_until BIGINT,
    synced_at TEXT,
    last_error TEXT
  );

  CREATE TABLE helpdesk_doorbells (
    id BIGSERIAL PRIMARY KEY,
    helpdesk TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    received_at BIGINT NOT NULL,
    done_at BIGINT,
    UNIQUE (helpdesk, delivery_id, ticket_id)
  );
  CREATE INDEX helpdesk_doorbells_due ON helpdesk_doorbells (state, next_attempt_at);

  CREATE TABLE alertmanager_silences (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    alertmanager TEXT NOT NULL,
    silence_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (incident_id, alertmanager)
  );

  ALTER TABLE builtin_tickets ADD COLUMN assignee TEXT;
  ALTER TABLE builtin_tickets ADD COLUMN resolution TEXT;
  ALTER TABLE builtin_tickets ADD COLUMN first_response_at TEXT;
  ALTER TABLE builtin_tickets ADD COLUMN follow_up_of BIGINT;
  ALTER TABLE builtin_comments ADD COLUMN author TEXT NOT NULL DEFAULT 'alertdesk';
  ALTER TABLE builtin_comments ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
  CREATE TABLE builtin_activity (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES builtin_tickets (id),
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX builtin_activity_ticket ON builtin_activity (ticket_id, id);
  CREATE INDEX builtin_tickets_follow_up ON builtin_tickets (follow_up_of) WHERE follow_up_of IS NOT NULL;
  `,
  // The archive: one knowledge-base entry per incident that is over, with full-text search (a
  // weighted tsvector, English stemming, GIN) and the labels indexed for the similar-incidents lookup.
  `
  ALTER TABLE incidents ADD COLUMN archive_at BIGINT;
  CREATE INDEX incidents_archive ON incidents (archive_at) WHERE archive_at IS NOT NULL;
  CREATE TABLE kb_entries (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL UNIQUE REFERENCES incidents (id),
    alertname TEXT,
    labels TEXT NOT NULL,
    title TEXT NOT NULL,
    ticket_key TEXT NOT NULL,
    ticket_id TEXT,
    ticket_url TEXT,
    started_at TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    has_resolution BOOLEAN NOT NULL,
    resolution_line TEXT NOT NULL,
    external_url TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX kb_entries_alertname ON kb_entries (alertname, id);
  -- The entry's text and search vector apart from its narrow row: the similar-incidents look-up reads many rows and never the text.
  CREATE TABLE kb_documents (
    entry_id BIGINT PRIMARY KEY REFERENCES kb_entries (id),
    data TEXT NOT NULL,
    search tsvector NOT NULL
  );
  CREATE INDEX kb_documents_search ON kb_documents USING GIN (search);
  CREATE TABLE kb_labels (
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    entry_id BIGINT NOT NULL REFERENCES kb_entries (id),
    PRIMARY KEY (name, value, entry_id)
  );
  CREATE INDEX kb_labels_entry ON kb_labels (entry_id);
  `,
  // Delivery order under a rate limit: the claim takes due rows by rank (model/ticket-operation.ts), aged.
  `
  ALTER TABLE outbox ADD COLUMN rank INTEGER NOT NULL DEFAULT 6;
  `,
  // A ticket's update budget counts the updates delivered to it lately; every replica's request
  // slots of a rate-limited helpdesk come from its one row here (times in the database's clock, ms).
  `
  CREATE INDEX outbox_incident_done ON outbox (incident_id, done_at) WHERE state = 'done';
  CREATE TABLE request_budgets (
    helpdesk TEXT PRIMARY KEY,
    last_slot_at DOUBLE PRECISION NOT NULL,
    paused_until DOUBLE PRECISION NOT NULL
  );
  `,
];
