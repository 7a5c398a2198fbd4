-- Who is in each dynamic segment as far as segment_enter / segment_exit events went out. Replicas
-- each compute transitions from their own index; the row written (or deleted) here decides which one
-- sends the event, so one transition makes one event. `tracked_at` is set once a segment's members
-- were first recorded (silently: a new segment's first members do not "enter").
CREATE TABLE segment_memberships (
    segment_id  text NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    customer_id text NOT NULL,
    entered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, customer_id)
);
ALTER TABLE segments ADD COLUMN tracked_at timestamptz;

-- One replica at a time computes transitions (the others would see the same changes, maybe a little
-- later, and a lagging one would announce spurious exits): the holder of this lease, renewed while it
-- runs, taken over when it expires.
CREATE TABLE segment_watch_lease (
    name       text PRIMARY KEY,
    owner      text NOT NULL,
    expires_at timestamptz NOT NULL
);
