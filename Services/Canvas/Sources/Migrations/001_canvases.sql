-- Canvases (DESIGN.md §3 "Canvases"): a journey design owned by an org unit. The editable document is
-- the draft; approval freezes it into canvas_versions, and a live canvas runs its latest approved
-- version. Journeys keep the version they entered with, so a new version never changes them.
CREATE TABLE canvases (
    id            text PRIMARY KEY CHECK (id ~ '^cnv_[a-z0-9]{1,60}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    org_id        text NOT NULL,
    org_path      text NOT NULL,
    created_by    text NOT NULL,
    -- draft | submitted | rejected: the draft's review state; scheduled | running | paused | stopped:
    -- the live canvas's state (a live canvas may also hold a draft of its next version).
    status        text NOT NULL CHECK (status IN ('draft', 'submitted', 'rejected', 'scheduled', 'running', 'paused', 'stopped')),
    draft         jsonb,
    draft_state   text CHECK (draft_state IN ('editing', 'submitted', 'rejected')),
    draft_by      text,
    review_note   text,
    live_version  integer,
    is_template   boolean NOT NULL DEFAULT false,
    copied_from   text,
    entries       bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    revision      bigint NOT NULL DEFAULT 1,
    CHECK ((draft IS NULL) = (draft_state IS NULL))
);
CREATE INDEX canvases_by_org_path ON canvases (org_path text_pattern_ops);
CREATE INDEX canvases_live ON canvases (status) WHERE status IN ('scheduled', 'running');

-- Approved versions: the document a journey runs is the one of its version, forever.
CREATE TABLE canvas_versions (
    canvas_id   text NOT NULL REFERENCES canvases (id),
    version     integer NOT NULL CHECK (version >= 1),
    document    jsonb NOT NULL,
    authored_by text NOT NULL,
    approved_by text NOT NULL,
    approved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (canvas_id, version)
);
