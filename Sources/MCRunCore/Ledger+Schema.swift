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
        return m
    }()
}
