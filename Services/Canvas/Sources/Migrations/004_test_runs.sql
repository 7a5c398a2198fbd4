-- Test runs (`POST /api/v1/canvases/{id}:test`): a canvas rehearsed on a seed list of customers. The
-- run keeps its own copy of the document (a draft has no version yet); its journeys are ordinary
-- journeys marked with `test_run`, so the engine moves them like any other, while the canvas's
-- statistics, re-entry, goals and journey facts leave them out. Their node counts are kept under the
-- run's id in node_stats.
CREATE TABLE test_runs (
    id           text PRIMARY KEY CHECK (id ~ '^tst_[a-z0-9]{1,60}$'),
    canvas_id    text NOT NULL REFERENCES canvases (id),
    -- the live version rehearsed, NULL for the draft
    version      integer,
    document     jsonb NOT NULL,
    customer_ids text[] NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX test_runs_by_canvas ON test_runs (canvas_id, created_at);

ALTER TABLE journeys ADD COLUMN test_run text REFERENCES test_runs (id);
CREATE INDEX journeys_by_test_run ON journeys (test_run) WHERE test_run IS NOT NULL;
