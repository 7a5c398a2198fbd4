-- Journey instances: one customer's way through one canvas version. A journey's position (node, the
-- time it is due, the event it waits for) is its timer: workers claim due journeys in batches with
-- FOR UPDATE SKIP LOCKED under a lease, so a killed worker's claims come back after `claimed_until`.
-- `step` advances with every completed step: a completion or an event that finds another step than
-- the one it read changes nothing (optimistic concurrency between timeouts and events).
CREATE TABLE journeys (
    id            bigserial PRIMARY KEY,
    canvas_id     text NOT NULL REFERENCES canvases (id),
    version       integer NOT NULL,
    customer_id   text NOT NULL,
    customer_org_path text,
    arm           text,
    -- active: at `node`, due at `due_at` (waiting for `wait_event` until then when set);
    -- control: in the control group, tracked for the goal until `due_at`; done: finished.
    state         text NOT NULL CHECK (state IN ('active', 'control', 'done')),
    node          text,
    due_at        timestamptz,
    wait_event    text,
    step          integer NOT NULL DEFAULT 0,
    visits        jsonb NOT NULL DEFAULT '{}',
    claimed_until timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    entered_at    timestamptz NOT NULL DEFAULT now(),
    goal_until    timestamptz,
    converted_at  timestamptz,
    exited_at     timestamptz,
    exit_reason   text,
    -- what made the entry unique: the wave of a segment entry, the event id of an event entry
    entry_key     text NOT NULL,
    UNIQUE (canvas_id, entry_key, customer_id)
);
CREATE INDEX journeys_due ON journeys (due_at) WHERE state IN ('active', 'control');
CREATE INDEX journeys_by_customer ON journeys (customer_id, canvas_id);
CREATE INDEX journeys_by_canvas ON journeys (canvas_id, state);

-- Per-node statistics, counted in the transaction that completes the step.
CREATE TABLE node_stats (
    canvas_id text NOT NULL,
    node      text NOT NULL,
    outcome   text NOT NULL,
    count     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (canvas_id, node, outcome)
);

-- Waves of segment entries: one row per planned run, with the members cursor so that a restart
-- resumes a half-entered wave where it stopped.
CREATE TABLE entry_waves (
    canvas_id  text NOT NULL REFERENCES canvases (id),
    wave       integer NOT NULL,
    due_at     timestamptz NOT NULL,
    cursor     text,
    entered    bigint NOT NULL DEFAULT 0,
    done       boolean NOT NULL DEFAULT false,
    claimed_until timestamptz,
    PRIMARY KEY (canvas_id, wave)
);
CREATE INDEX entry_waves_due ON entry_waves (due_at) WHERE NOT done;

-- Breakpoint recall: customers who did A, entering when B did not follow within T.
CREATE TABLE recall_candidates (
    canvas_id   text NOT NULL REFERENCES canvases (id),
    customer_id text NOT NULL,
    event_id    text NOT NULL,
    cancel_event text NOT NULL,
    due_at      timestamptz NOT NULL,
    customer_org_path text,
    PRIMARY KEY (canvas_id, customer_id, event_id)
);
CREATE INDEX recall_due ON recall_candidates (due_at);
CREATE INDEX recall_by_customer ON recall_candidates (customer_id, cancel_event);

-- Follow-up tasks for account managers (the `task` node), created once per journey step.
CREATE TABLE tasks (
    id           text PRIMARY KEY,
    canvas_id    text NOT NULL,
    node         text NOT NULL,
    journey_id   bigint NOT NULL,
    step         integer NOT NULL,
    customer_id  text NOT NULL,
    assignee     text,
    org_path     text NOT NULL,
    text         text NOT NULL,
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    UNIQUE (journey_id, node, step)
);
CREATE INDEX tasks_by_assignee ON tasks (assignee, status);
