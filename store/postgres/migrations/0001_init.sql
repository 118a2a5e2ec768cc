-- The whole schema of Switchboard, PostgreSQL dialect. store/sqlite/migrations
-- holds the same schema for SQLite; keep the two in step.
--
-- Conventions: ids are TEXT (switchboard.NewID); times are BIGINT unix
-- milliseconds, UTC, NULL when absent; string lists are JSON arrays as TEXT;
-- optional references are '' rather than NULL, except where a unique or
-- foreign key needs NULL.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE departments (
    id                       TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    -- lower-cased name, computed by the store so that both backends ignore
    -- case alike (SQLite's lower() folds ASCII only).
    name_key                 TEXT NOT NULL,
    description              TEXT NOT NULL DEFAULT '',
    visibility               TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    enabled                  BOOLEAN NOT NULL DEFAULT TRUE,
    routing                  TEXT NOT NULL CHECK (routing IN ('auto', 'broadcast')),
    widget_key               TEXT UNIQUE, -- NULL for private departments
    allowed_origins          TEXT NOT NULL DEFAULT '[]',
    ring_timeout_s           INTEGER NOT NULL,
    wait_timeout_s           INTEGER NOT NULL,
    locale                   TEXT NOT NULL DEFAULT '',
    email_from_address       TEXT NOT NULL DEFAULT '',
    email_transcript_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    email_transcript_to      TEXT NOT NULL DEFAULT '[]',
    email_blocked_ip_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    email_blocked_ip_to      TEXT NOT NULL DEFAULT '[]',
    email_feedback_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    email_feedback_to        TEXT NOT NULL DEFAULT '[]',
    email_missed_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    email_missed_to          TEXT NOT NULL DEFAULT '[]',
    email_cc_enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    email_cc_to              TEXT NOT NULL DEFAULT '[]',
    -- '' or the department that takes this one's chats when nobody is
    -- online or the wait timeout passes (not followed further).
    fallback_department_id   TEXT NOT NULL DEFAULT '',
    -- the widget's pre-chat form: each field 'required', 'optional' or 'off'
    prechat_name             TEXT NOT NULL DEFAULT 'optional' CHECK (prechat_name IN ('required', 'optional', 'off')),
    prechat_email            TEXT NOT NULL DEFAULT 'optional' CHECK (prechat_email IN ('required', 'optional', 'off')),
    prechat_question         TEXT NOT NULL DEFAULT 'required' CHECK (prechat_question IN ('required', 'optional', 'off')),
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    deleted_at               BIGINT -- soft delete: chats keep referring to the row
);
-- A deleted department frees its name.
CREATE UNIQUE INDEX departments_live_name ON departments (name_key) WHERE deleted_at IS NULL;
CREATE INDEX departments_live_created ON departments (created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    -- stored lower-cased (switchboard.Operator.Normalize), so UNIQUE is
    -- unique ignoring case.
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator')),
    max_chats     INTEGER NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    locale        TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX operators_created ON operators (created_at, id);

CREATE TABLE department_operators (
    department_id TEXT NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    operator_id   TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (department_id, operator_id)
);
CREATE INDEX department_operators_operator ON department_operators (operator_id);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_operator ON sessions (operator_id, expires_at);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- One-time WebSocket tickets. A ticket dies with its session (logout).
CREATE TABLE ws_tickets (
    ticket_hash  TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL REFERENCES sessions (token_hash) ON DELETE CASCADE,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX ws_tickets_expires ON ws_tickets (expires_at);
CREATE INDEX ws_tickets_session ON ws_tickets (session_hash);

CREATE TABLE visitors (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    page_url     TEXT NOT NULL DEFAULT '',
    locale       TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE TABLE chats (
    id               TEXT PRIMARY KEY,
    department_id    TEXT NOT NULL REFERENCES departments (id),
    department_name  TEXT NOT NULL, -- copied: history shows it after the department is deleted
    visitor_id       TEXT NOT NULL REFERENCES visitors (id),
    -- '' while queued or missed. No foreign key: history keeps the id of a
    -- deleted operator.
    operator_id      TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('queued', 'ongoing', 'missed', 'completed')),
    question         TEXT NOT NULL DEFAULT '',
    page_url         TEXT NOT NULL DEFAULT '',
    visitor_ip       TEXT NOT NULL DEFAULT '',
    locale           TEXT NOT NULL DEFAULT '',
    reopened         BOOLEAN NOT NULL DEFAULT FALSE,
    reopened_at      BIGINT,
    started_at       BIGINT NOT NULL,
    answered_at      BIGINT,
    ended_at         BIGINT,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    rating           INTEGER NOT NULL DEFAULT 0, -- 0: no feedback
    -- The node routing a queued chat, until lease_expires_at; another node
    -- takes over a chat whose lease expired.
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_expires_at BIGINT
)
-- Every batch of messages updates last_seq: free room on each page keeps
-- those updates HOT (no new index entries in the six indexes below).
WITH (fillfactor = 70);
-- History: newest first, alone or filtered by department, operator, status.
CREATE INDEX chats_started ON chats (started_at DESC, id DESC);
CREATE INDEX chats_department_started ON chats (department_id, started_at DESC, id DESC);
CREATE INDEX chats_operator_started ON chats (operator_id, started_at DESC, id DESC);
CREATE INDEX chats_status_started ON chats (status, started_at DESC, id DESC);
-- A category and an operator: without it a combination that matches
-- little (missed chats of an operator: none) walks one of them to the end.
CREATE INDEX chats_operator_status_started ON chats (operator_id, status, started_at DESC, id DESC);
CREATE INDEX chats_reopened_started ON chats (started_at DESC, id DESC) WHERE reopened;
CREATE INDEX chats_visitor ON chats (visitor_id, started_at DESC);

CREATE TABLE messages (
    chat_id       TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL, -- 1, 2, 3 … per chat, no gaps
    client_msg_id TEXT NOT NULL,
    from_kind     TEXT NOT NULL CHECK (from_kind IN ('visitor', 'operator', 'system')),
    from_id       TEXT NOT NULL DEFAULT '',
    from_name     TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (chat_id, seq),
    -- A retried send finds its first copy instead of making a second.
    UNIQUE (chat_id, client_msg_id)
);
-- History search (ChatFilter.Query, see store/sqlstore/search.go).
-- Trigrams of the lower-cased bodies serve lower(body) LIKE '%…%' for
-- patterns of three characters or more in any script, Japanese included
-- (no word splitting needed). System notices are not searched, so they
-- stay out of the indexes. pg_trgm ships with the server
-- (postgresql-contrib) and is a trusted extension: a database owner may
-- create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_body_trgm ON messages USING gin (lower(body) gin_trgm_ops) WHERE from_kind <> 'system';
-- Trigrams cannot find one- or two-character words, and Japanese has many
-- (注文, 予約, 傘). sb_grams lists the characters that are not ASCII and
-- the pairs of neighbours with at least one such character: a body
-- contains such a one- or two-character text exactly when its grams
-- contain it. Only bodies with a non-ASCII character are indexed
-- (octet_length differs from length), which keeps the index small.
CREATE FUNCTION sb_grams(t text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    prev text := '';
    c    text;
    grams text[] := '{}';
BEGIN
    FOREACH c IN ARRAY string_to_array(t, NULL) LOOP
        IF octet_length(c) > 1 THEN
            grams := grams || c;
            IF prev <> '' THEN
                grams := grams || (prev || c);
            END IF;
        ELSIF octet_length(prev) > 1 THEN
            grams := grams || (prev || c);
        END IF;
        prev := c;
    END LOOP;
    RETURN grams;
END
$$;
CREATE INDEX messages_body_grams ON messages USING gin (sb_grams(lower(body)))
    WHERE from_kind <> 'system' AND octet_length(body) <> length(body);
-- Whether to look a text up in these indexes or to walk the newest chats
-- and check theirs depends on how common it is; statistics on the indexed
-- expressions (with a large sample) let the planner tell.
CREATE STATISTICS messages_body_lower_stats ON (lower(body)) FROM messages;
ALTER STATISTICS messages_body_lower_stats SET STATISTICS 1000;
CREATE STATISTICS messages_body_grams_stats ON (sb_grams(lower(body))) FROM messages;
ALTER STATISTICS messages_body_grams_stats SET STATISTICS 1000;
-- The history's visitor filter (a substring of the name or the email) the
-- same way: one visitor's address is looked up, a common fragment
-- ("example.jp") walks the newest chats.
CREATE INDEX visitors_name_trgm ON visitors USING gin (lower(name) gin_trgm_ops);
CREATE INDEX visitors_email_trgm ON visitors USING gin (lower(email) gin_trgm_ops);
CREATE STATISTICS visitors_name_lower_stats ON (lower(name)) FROM visitors;
CREATE STATISTICS visitors_email_lower_stats ON (lower(email)) FROM visitors;

CREATE TABLE transfers (
    id                 TEXT PRIMARY KEY,
    chat_id            TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    at                 BIGINT NOT NULL,
    from_department_id TEXT NOT NULL DEFAULT '',
    to_department_id   TEXT NOT NULL DEFAULT '',
    from_operator_id   TEXT NOT NULL DEFAULT '',
    to_operator_id     TEXT NOT NULL DEFAULT '',
    note               TEXT NOT NULL DEFAULT ''
);
CREATE INDEX transfers_chat ON transfers (chat_id, at);
-- An operator's history lists the chats it handed over or received.
CREATE INDEX transfers_from_operator ON transfers (from_operator_id) WHERE from_operator_id <> '';
CREATE INDEX transfers_to_operator ON transfers (to_operator_id) WHERE to_operator_id <> '';

CREATE TABLE notes (
    id          TEXT PRIMARY KEY,
    chat_id     TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    operator_id TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX notes_chat ON notes (chat_id, created_at);

CREATE TABLE feedback (
    chat_id    TEXT PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment    TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE blocked_ips (
    id            TEXT PRIMARY KEY,
    ip            TEXT NOT NULL, -- as given: an address or a CIDR
    reason        TEXT NOT NULL DEFAULT '',
    department_id TEXT NOT NULL DEFAULT '', -- '' blocks for every department
    chat_id       TEXT NOT NULL DEFAULT '', -- no foreign key: a block outlives its chat
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT -- NULL: never
);
CREATE INDEX blocked_ips_created ON blocked_ips (created_at, id);

CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('transcript', 'blocked_ip', 'feedback', 'missed', 'visitor')),
    chat_id         TEXT NOT NULL DEFAULT '', -- no foreign key: deleting a chat cancels its mail
    department_id   TEXT NOT NULL DEFAULT '',
    message_id      TEXT NOT NULL, -- RFC 5322 Message-ID, the same on every attempt
    from_address    TEXT NOT NULL,
    to_addresses    TEXT NOT NULL DEFAULT '[]',
    cc_addresses    TEXT NOT NULL DEFAULT '[]',
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL DEFAULT '',
    html_body       TEXT NOT NULL DEFAULT '',
    attachment_name TEXT NOT NULL DEFAULT '',
    attachment      BYTEA,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When a pending mail is due. A sender claims a mail by moving it into
    -- the future, so that another node does not send it at the same time.
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_chat ON mail_outbox (chat_id);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL, -- "chat.delete", "department.delete", …
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
