import GRDB

extension Ledger {
    /// Versioned migrations; append, never edit a shipped one.
    static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        m.registerMigration("v1-runtimes-tickets-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tickets (
                        id TEXT PRIMARY KEY NOT NULL,
                        parked INTEGER NOT NULL DEFAULT 0,
                        parked_reason TEXT,
                        parked_at REAL,
                        deaths INTEGER NOT NULL DEFAULT 0,
                        escalated INTEGER NOT NULL DEFAULT 0,
                        escalated_reason TEXT,
                        escalated_at REAL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    CREATE TABLE runtimes (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        ticket TEXT NOT NULL REFERENCES tickets(id),
                        episode INTEGER NOT NULL,
                        nonce TEXT NOT NULL,
                        owner TEXT,
                        state TEXT NOT NULL CHECK (state IN
                            ('launching','running','stopping','stopped','completed','dead','launch_failed')),
                        session_name TEXT NOT NULL,
                        session_id TEXT,
                        pane_id TEXT,
                        argv TEXT NOT NULL,
                        cwd TEXT NOT NULL,
                        env TEXT NOT NULL,
                        boot_id TEXT,
                        pid INTEGER,
                        start_time INTEGER,
                        launcher_pid INTEGER,
                        launcher_start_time INTEGER,
                        created_at REAL NOT NULL,
                        started_at REAL,
                        ended_at REAL,
                        updated_at REAL NOT NULL,
                        end_reason TEXT,
                        ended_by TEXT,
                        exit_code INTEGER,
                        exit_signal INTEGER,
                        leftovers_killed INTEGER,
                        last_screen TEXT,
                        busy INTEGER NOT NULL DEFAULT 0,
                        busy_source TEXT,
                        busy_at REAL,
                        verdict TEXT,
                        verdict_at REAL,
                        UNIQUE (ticket, episode)
                    );
                    -- The guarantee behind "one runtime per ticket": not a check-then-act in code.
                    CREATE UNIQUE INDEX runtimes_one_live_per_ticket
                        ON runtimes(ticket) WHERE state IN ('launching','running','stopping');
                    CREATE INDEX runtimes_by_state ON runtimes(state);
                    CREATE TABLE events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at REAL NOT NULL,
                        kind TEXT NOT NULL,
                        ticket TEXT,
                        runtime_id INTEGER,
                        episode INTEGER,
                        from_state TEXT,
                        to_state TEXT,
                        actor TEXT NOT NULL,
                        reason TEXT,
                        data TEXT NOT NULL DEFAULT '{}'
                    );
                    CREATE INDEX events_by_ticket ON events(ticket, id);
                    CREATE TABLE settings (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    """)
        }
        m.registerMigration("v2-send-queue") { db in
            // Messages for a busy agent, per episode: a message queued for one episode is
            // never typed into the next one.
            try db.execute(
                sql: """
                    CREATE TABLE send_queue (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        runtime_id INTEGER NOT NULL REFERENCES runtimes(id),
                        ticket TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('pending','delivering','delivered','failed','uncertain')),
                        body BLOB NOT NULL,
                        enter INTEGER NOT NULL DEFAULT 1,
                        actor TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        delivered_at REAL,
                        error TEXT
                    );
                    CREATE INDEX send_queue_by_runtime ON send_queue(runtime_id, state, id);
                    """)
        }
        m.registerMigration("harvest-1-signals-records-hooks") { db in
            try db.execute(
                sql: """
                    -- Completion signals, stored before they are judged: a signal is never lost,
                    -- and a quarantined one keeps its reason.
                    CREATE TABLE signals (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at REAL NOT NULL,
                        ticket TEXT NOT NULL,
                        episode INTEGER NOT NULL,
                        runtime_id INTEGER,
                        kind TEXT NOT NULL CHECK (kind IN ('DONE','REVIEW','QUESTION')),
                        payload TEXT NOT NULL DEFAULT '{}',
                        state TEXT NOT NULL CHECK (state IN ('received','accepted','quarantined')),
                        reason TEXT,
                        decided_at REAL,
                        actor TEXT NOT NULL
                    );
                    CREATE INDEX signals_by_runtime ON signals(runtime_id, state, id);
                    CREATE INDEX signals_undecided ON signals(state) WHERE state = 'received';
                    -- Written when the runtime ends, so harvest survives log rotation.
                    ALTER TABLE runtimes ADD COLUMN transcript_tail TEXT;
                    ALTER TABLE runtimes ADD COLUMN terminal_record TEXT;
                    -- The event-hook outbox: a delivery is pending until its hook exited 0.
                    CREATE TABLE hook_cursor (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        last_event_id INTEGER NOT NULL
                    );
                    CREATE TABLE hook_deliveries (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        event_id INTEGER NOT NULL REFERENCES events(id),
                        hook TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at REAL NOT NULL,
                        lease_until REAL,
                        lease_owner TEXT,
                        last_error TEXT,
                        last_exit INTEGER,
                        created_at REAL NOT NULL,
                        delivered_at REAL,
                        UNIQUE (event_id, hook)
                    );
                    CREATE INDEX hook_deliveries_due ON hook_deliveries(state, next_attempt_at) WHERE state = 'pending';
                    CREATE TABLE hook_attempts (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        delivery_id INTEGER NOT NULL REFERENCES hook_deliveries(id),
                        attempt INTEGER NOT NULL,
                        started_at REAL NOT NULL,
                        ended_at REAL,
                        pid INTEGER,
                        pid_start_time INTEGER,
                        outcome TEXT,
                        exit_code INTEGER,
                        exit_signal INTEGER,
                        error TEXT,
                        UNIQUE (delivery_id, attempt)
                    );
                    """)
        }
        m.registerMigration("v2-pending-retries") { db in
            // A death's silent relaunch, recorded in the death's own transaction and claimed in
            // the relaunch's admission transaction: a supervisor crash in between neither loses
            // nor repeats it.
            try db.execute(
                sql: """
                    CREATE TABLE pending_retries (
                        ticket TEXT PRIMARY KEY NOT NULL REFERENCES tickets(id),
                        runtime_id INTEGER NOT NULL REFERENCES runtimes(id),
                        due_at REAL NOT NULL,
                        created_at REAL NOT NULL
                    );
                    """)
        }
        m.registerMigration("v3-stopper-identity") { db in
            // Who is stopping a runtime and by when, so the service takes over a stop only
            // when its stopper is gone or late, never in the middle of a long grace period.
            try db.execute(
                sql: """
                    ALTER TABLE runtimes ADD COLUMN stopper_pid INTEGER;
                    ALTER TABLE runtimes ADD COLUMN stopper_start_time INTEGER;
                    ALTER TABLE runtimes ADD COLUMN stop_deadline REAL;
                    """)
        }
        m.registerMigration("v4-lifecycle") { db in
            // The ending path records an end first and tears down after: `teardown_owed`
            // marks an end whose teardown (leftovers, session) has not finished, so a crash
            // in between finishes it later. A relaunch held by policy says why and since when.
            try db.execute(
                sql: """
                    ALTER TABLE runtimes ADD COLUMN teardown_owed INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX runtimes_teardown_owed ON runtimes(teardown_owed) WHERE teardown_owed = 1;
                    ALTER TABLE runtimes ADD COLUMN relaunch_of INTEGER REFERENCES runtimes(id);
                    ALTER TABLE pending_retries ADD COLUMN held_reason TEXT;
                    ALTER TABLE pending_retries ADD COLUMN held_since REAL;
                    ALTER TABLE pending_retries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        m.registerMigration("v5-refusals") { db in
            // Refusals coalesced per (ticket, reason): the first in a window writes a `refused`
            // event, later ones in the window only count here, so a dispatcher retrying in a
            // loop leaves a trace without flooding the events.
            try db.execute(
                sql: """
                    CREATE TABLE refusals (
                        ticket TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        action TEXT NOT NULL,
                        code INTEGER NOT NULL,
                        window_started_at REAL NOT NULL,
                        count INTEGER NOT NULL,
                        total INTEGER NOT NULL,
                        last_at REAL NOT NULL,
                        event_id INTEGER,
                        PRIMARY KEY (ticket, reason)
                    );
                    """)
        }
        m.registerMigration("v7-deploy") { db in
            // Why a runtime's pane has no log (no pane-log hook found), so a missing log is
            // reported by `start`, `show` and the JSON instead of found out later.
            try db.execute(sql: "ALTER TABLE runtimes ADD COLUMN pane_log_missing TEXT")
        }
        m.registerMigration("v8-ops") { db in
            // What operators read without asking the service: its heartbeat (one row,
            // rewritten by `serve` after each full pass) and events counted by kind for
            // `mcrun metrics`, without a scan of the whole log.
            try db.execute(
                sql: """
                    CREATE TABLE serve_heartbeat (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        pid INTEGER NOT NULL,
                        started_at REAL NOT NULL,
                        last_pass_at REAL NOT NULL,
                        status TEXT NOT NULL
                    );
                    CREATE INDEX events_by_kind ON events(kind);
                    """)
        }
        m.registerMigration("v9-agents") { db in
            // An agent waiting for a person (a permission prompt): text typed now would answer
            // the prompt, so `send` holds back until the agent's next busy or idle report.
            try db.execute(
                sql: """
                    ALTER TABLE runtimes ADD COLUMN waiting_since REAL;
                    ALTER TABLE runtimes ADD COLUMN waiting_for TEXT;
                    -- The agent's own session (Claude Code's session_id and transcript), from its hooks.
                    ALTER TABLE runtimes ADD COLUMN agent_session_id TEXT;
                    ALTER TABLE runtimes ADD COLUMN agent_transcript_path TEXT;
                    """)
        }
        m.registerMigration("v10-delivery") { db in
            // Every send is a message with an id, not only the queued ones, and a delivery says
            // how far it got: `pasted` (in the pane; no receipt, or none yet), `confirmed` (the
            // agent's prompt hook received the same text: `digest`), `uncertain` (its sender
            // died mid-paste). SQLite cannot alter a CHECK, so the table is rebuilt; queued
            // messages delivered before are `pasted`. A direct send keeps no body.
            try db.execute(
                sql: """
                    CREATE TABLE send_queue_v10 (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        runtime_id INTEGER NOT NULL REFERENCES runtimes(id),
                        ticket TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('pending','delivering','pasted','confirmed','failed','uncertain')),
                        body BLOB NOT NULL,
                        enter INTEGER NOT NULL DEFAULT 1,
                        actor TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        delivered_at REAL,
                        error TEXT,
                        mode TEXT NOT NULL DEFAULT 'queue',
                        bytes INTEGER NOT NULL DEFAULT 0,
                        digest TEXT,
                        confirmed_at REAL
                    );
                    INSERT INTO send_queue_v10(id, runtime_id, ticket, state, body, enter, actor, created_at, delivered_at, error, mode, bytes)
                        SELECT id, runtime_id, ticket, CASE state WHEN 'delivered' THEN 'pasted' ELSE state END, body, enter, actor,
                               created_at, delivered_at, error, 'queue', length(body)
                        FROM send_queue;
                    DROP TABLE send_queue;
                    ALTER TABLE send_queue_v10 RENAME TO send_queue;
                    CREATE INDEX send_queue_by_runtime ON send_queue(runtime_id, state, id);
                    """)
        }
        m.registerMigration("v10-agent-session") { db in
            // Which agent the runtime runs (its hooks and screen differ), the template of the
            // argv that resumes the agent's own session on a relaunch, and the argv the
            // template was applied to, so a later relaunch starts from the caller's command.
            try db.execute(
                sql: """
                    ALTER TABLE runtimes ADD COLUMN agent_kind TEXT;
                    ALTER TABLE runtimes ADD COLUMN resume_argv TEXT;
                    ALTER TABLE runtimes ADD COLUMN original_argv TEXT;
                    """)
        }
        m.registerMigration("v10-host-incidents") { db in
            // Failures of the host rather than of one agent (mcrun's tmux server lost, a
            // breaker opened by agents dying right after starting on several tickets): one
            // row per incident, opened once and closed when its cause goes away. At most one
            // open incident of each kind.
            try db.execute(
                sql: """
                    CREATE TABLE host_incidents (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        cause TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        ended_at REAL,
                        closed_by TEXT,
                        close_reason TEXT,
                        tickets TEXT NOT NULL DEFAULT '[]',
                        runtimes INTEGER NOT NULL DEFAULT 0,
                        probe_runtime_id INTEGER,
                        next_probe_at REAL
                    );
                    CREATE UNIQUE INDEX host_incidents_one_open ON host_incidents(kind) WHERE ended_at IS NULL;
                    -- Why a relaunch is owed: NULL for a ticket's first death, else the host
                    -- incident that ended the runtime (its relaunch is not a retry of the ticket).
                    ALTER TABLE pending_retries ADD COLUMN host_incident_id INTEGER;
                    """)
        }
        m.registerMigration("v10-cgroups") { db in
            // A runtime's own cgroup (JSON: its cgroup2 directory, the v1 groups that carry
            // limits on a hybrid host), or why it has none; the limits it was started with,
            // applied again on relaunch; and what its cgroup said it used when it ended.
            try db.execute(
                sql: """
                    ALTER TABLE runtimes ADD COLUMN cgroup TEXT;
                    ALTER TABLE runtimes ADD COLUMN cgroup_missing TEXT;
                    ALTER TABLE runtimes ADD COLUMN limits TEXT;
                    ALTER TABLE runtimes ADD COLUMN usage TEXT;
                    """)
        }
        return m
    }()
}
