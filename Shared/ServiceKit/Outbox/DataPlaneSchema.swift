import Postgres

/// The tables of the transactional outbox, the inbox, the job queue and the scheduler, created in each
/// service's own schema by the service's `Migrator` run.
///
/// Versions 9001–9999 are reserved for ServiceKit: a service's own migration files use 1…9000 and the
/// service passes `ownMigrations + DataPlaneSchema.migrations` to its `Migrator`. Every service
/// includes all of them (even if it uses no jobs yet), because the migrator refuses to start when an
/// applied version is missing from the code; future ServiceKit changes are new versions, never
/// edits of these (the migrator checks checksums).
///
/// The SQL is unqualified: the migrator runs each file with `search_path` set to the service schema.
public enum DataPlaneSchema {
    /// Lowest version reserved for ServiceKit; a service's own versions must stay below it.
    public static let firstReservedVersion = 9001

    /// All ServiceKit migrations, in version order.
    public static var migrations: [Migration] { [outbox, inbox, jobs, schedules, idempotencyKeys] }

    /// `outbox_events`: events written in the caller's transaction, delivered by `OutboxRelay`.
    ///
    /// `seq` only orders rows for the operator; delivery claims go by `status` and `next_attempt_at`
    /// with SKIP LOCKED (a sequence is handed out before commit, so `seq > last_seen` would skip rows).
    /// While a relay holds a row, `next_attempt_at` is the end of its lease: a killed relay's rows
    /// become due again when it passes.
    public static let outbox = Migration(version: 9001, name: "servicekit_outbox", sql: """
        CREATE TABLE outbox_events (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL,
            event_type text NOT NULL CHECK (octet_length(event_type) BETWEEN 1 AND 200),
            destination text NOT NULL CHECK (octet_length(destination) BETWEEN 1 AND 100),
            payload jsonb NOT NULL,
            occurred_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            lease_owner text,
            lease_token uuid,
            last_error text,
            delivered_at timestamptz,
            CONSTRAINT outbox_events_event_destination_key UNIQUE (event_id, destination)
        );
        CREATE INDEX outbox_events_due ON outbox_events (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX outbox_events_delivered ON outbox_events (delivered_at) WHERE status = 'delivered';
        CREATE INDEX outbox_events_dead ON outbox_events (created_at) WHERE status = 'dead';
        """)

    /// `inbox_events`: one row per (consumer, event id) processed, written in the handler's transaction.
    public static let inbox = Migration(version: 9002, name: "servicekit_inbox", sql: """
        CREATE TABLE inbox_events (
            consumer text NOT NULL CHECK (octet_length(consumer) BETWEEN 1 AND 100),
            event_id uuid NOT NULL,
            event_type text,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        );
        CREATE INDEX inbox_events_received ON inbox_events (received_at);
        """)

    /// `jobs`: the work queue. `running` rows carry a lease (`locked_until`, `locked_by`,
    /// `lease_token`); when it expires the row returns to `pending` (or `dead` after its last attempt).
    ///
    /// Invariant: `lease_token` is set exactly while a row is `running` (every move out of `running`
    /// clears it). Statements naming jobs by id and token therefore leave `status` out, so that the
    /// planner probes the primary key: with `status = 'running'` it picks the `jobs_leased` partial
    /// index, which keeps the dead versions of every row that was ever running until vacuum (a
    /// completion took 6 ms at 300k delivered messages).
    public static let jobs = Migration(version: 9003, name: "servicekit_jobs", sql: """
        CREATE TABLE jobs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            queue text NOT NULL CHECK (octet_length(queue) BETWEEN 1 AND 100),
            payload jsonb NOT NULL,
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'dead')),
            run_at timestamptz NOT NULL DEFAULT now(),
            attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
            dedupe_key text CHECK (octet_length(dedupe_key) BETWEEN 1 AND 200),
            locked_by text,
            locked_until timestamptz,
            lease_token uuid,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz,
            CONSTRAINT jobs_queue_dedupe_key UNIQUE (queue, dedupe_key)
        );
        CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE status = 'pending';
        CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'running';
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status = 'done';
        """)

    /// `schedules`: one row per periodic tick; `next_run_at` is claimed and advanced atomically.
    public static let schedules = Migration(version: 9004, name: "servicekit_schedules", sql: """
        CREATE TABLE schedules (
            name text PRIMARY KEY CHECK (octet_length(name) BETWEEN 1 AND 100),
            interval_seconds double precision NOT NULL CHECK (interval_seconds > 0),
            next_run_at timestamptz NOT NULL,
            runs bigint NOT NULL DEFAULT 0,
            last_run_at timestamptz,
            last_run_by text,
            last_error text,
            consecutive_failures integer NOT NULL DEFAULT 0
        );
        """)

    /// `idempotency_keys`: replays of creates that carried an `Idempotency-Key` (`IdempotencyStore`).
    /// A row with a NULL status is a request in progress. `IF NOT EXISTS`: the gateway had the same
    /// table from its own migration before it moved here.
    public static let idempotencyKeys = Migration(version: 9005, name: "servicekit_idempotency_keys", sql: """
        CREATE TABLE IF NOT EXISTS idempotency_keys (
            caller_id   text NOT NULL,
            key         text NOT NULL,
            fingerprint text NOT NULL,
            status      integer,
            body        bytea,
            created_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (caller_id, key)
        );
        CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (created_at);
        """)
}
