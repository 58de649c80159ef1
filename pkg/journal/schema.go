package journal

// migrations[i] brings the schema from version i to i+1 (PRAGMA user_version). Never edit
// a released migration; append a new one.
var migrations = []string{
	// 1: runs, steps, one row per host per action attempt, wake results, notices.
	`
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  plan          TEXT NOT NULL,
  month         TEXT NOT NULL,           -- YYYY-MM
  patch_tuesday TEXT NOT NULL,           -- YYYY-MM-DD in the plan's zone
  time_zone     TEXT NOT NULL,
  started       TEXT NOT NULL,           -- UTC, 'YYYY-MM-DD HH:MM:SS.fff'
  finished      TEXT,
  status        TEXT NOT NULL,
  UNIQUE (plan, month)
);

CREATE TABLE steps (
  id          INTEGER PRIMARY KEY,
  run         INTEGER NOT NULL REFERENCES runs(id),
  step        TEXT NOT NULL,             -- step ID of the plan
  occurrence  TEXT NOT NULL,             -- occurrence ID (the step ID, or STEP-HHMM)
  action      TEXT NOT NULL,
  planned     TEXT NOT NULL,
  started     TEXT NOT NULL,
  finished    TEXT,
  status      TEXT NOT NULL,
  resumes     INTEGER NOT NULL DEFAULT 0, -- times the step was started again after a stop
  hosts       INTEGER NOT NULL DEFAULT 0,
  ok          INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  skipped     INTEGER NOT NULL DEFAULT 0,
  unconfirmed INTEGER NOT NULL DEFAULT 0,
  note        TEXT NOT NULL DEFAULT '',
  UNIQUE (run, occurrence)
);
CREATE INDEX steps_run ON steps (run, step);

CREATE TABLE host_actions (
  id          INTEGER PRIMARY KEY,
  run         INTEGER NOT NULL,
  step        INTEGER NOT NULL REFERENCES steps(id),
  host        TEXT NOT NULL COLLATE NOCASE,
  resource_id INTEGER NOT NULL DEFAULT 0,
  action      TEXT NOT NULL,
  attempt     INTEGER NOT NULL DEFAULT 1,
  outcome     TEXT NOT NULL,
  reason      TEXT NOT NULL DEFAULT '',
  error_code  INTEGER NOT NULL DEFAULT 0,
  channel     TEXT NOT NULL DEFAULT '',
  at          TEXT NOT NULL
);
CREATE INDEX host_actions_step ON host_actions (step, host, action);
CREATE INDEX host_actions_run ON host_actions (run, host, action);

CREATE TABLE wakes (
  id            INTEGER PRIMARY KEY,
  run           INTEGER NOT NULL,
  step          INTEGER NOT NULL REFERENCES steps(id),
  host          TEXT NOT NULL COLLATE NOCASE,
  resource_id   INTEGER NOT NULL DEFAULT 0,
  mac           TEXT NOT NULL DEFAULT '',
  method        TEXT NOT NULL DEFAULT '',
  packets       INTEGER NOT NULL DEFAULT 0,
  sent          TEXT NOT NULL,
  online_before INTEGER NOT NULL DEFAULT 0,
  woke          TEXT
);
CREATE INDEX wakes_step ON wakes (step, host);

CREATE TABLE notices (
  id          INTEGER PRIMARY KEY,
  run         INTEGER,                   -- NULL outside a night (the watcher's own runs)
  host        TEXT NOT NULL COLLATE NOCASE,
  resource_id INTEGER NOT NULL DEFAULT 0,
  user_name   TEXT NOT NULL DEFAULT '',
  kind        TEXT NOT NULL,             -- scan | missing
  update_id   TEXT NOT NULL DEFAULT '' COLLATE NOCASE, -- ArticleID or BulletinID; '' for scan notices
  article_id  TEXT NOT NULL DEFAULT '',
  bulletin_id TEXT NOT NULL DEFAULT '',
  delivered   INTEGER NOT NULL,
  channel     TEXT NOT NULL DEFAULT '',
  reason      TEXT NOT NULL DEFAULT '',
  at          TEXT NOT NULL
);
CREATE INDEX notices_host ON notices (host, update_id, kind);
`,
	// 2: the patched share measured at the end of each step (the morning report's burn-down).
	`
CREATE TABLE step_metrics (
  step     INTEGER PRIMARY KEY REFERENCES steps(id),
  eligible INTEGER NOT NULL,
  patched  INTEGER NOT NULL,
  at       TEXT NOT NULL
);
`,
	// 3: user notices (issue 7): the scan-behind watcher's passes and the machines it saw
	// online at the last one, and the machines escalated after repeated notices.
	`
CREATE TABLE watch_passes (
  id          INTEGER PRIMARY KEY,
  at          TEXT NOT NULL,
  behind      INTEGER NOT NULL DEFAULT 0, -- scan-behind machines in scope
  online      INTEGER NOT NULL DEFAULT 0, -- ... of them online
  came_online INTEGER NOT NULL DEFAULT 0, -- ... online now and not at the last pass
  noticed     INTEGER NOT NULL DEFAULT 0, -- machines told
  scanned     INTEGER NOT NULL DEFAULT 0, -- scans triggered
  failed      INTEGER NOT NULL DEFAULT 0  -- machines not reached (tried again next pass)
);

CREATE TABLE watch_online (
  host        TEXT PRIMARY KEY COLLATE NOCASE,
  resource_id INTEGER NOT NULL DEFAULT 0,
  since       TEXT NOT NULL,              -- first pass that saw it online (and dealt with it)
  pass        INTEGER NOT NULL            -- last pass that saw it online
);

CREATE TABLE watch_hosts (
  id          INTEGER PRIMARY KEY,
  pass        INTEGER NOT NULL REFERENCES watch_passes(id),
  host        TEXT NOT NULL COLLATE NOCASE,
  resource_id INTEGER NOT NULL DEFAULT 0,
  noticed     INTEGER NOT NULL,
  notice_note TEXT NOT NULL DEFAULT '',   -- why not told: nobody-logged-on, quiet-hours, too-soon, ...
  scanned     INTEGER NOT NULL,
  scan_note   TEXT NOT NULL DEFAULT '',
  at          TEXT NOT NULL
);
CREATE INDEX watch_hosts_host ON watch_hosts (host, at);

CREATE TABLE escalations (
  id            INTEGER PRIMARY KEY,
  run           INTEGER,                  -- NULL outside a night
  host          TEXT NOT NULL COLLATE NOCASE,
  resource_id   INTEGER NOT NULL DEFAULT 0,
  update_id     TEXT NOT NULL COLLATE NOCASE, -- ArticleID or BulletinID
  article_id    TEXT NOT NULL DEFAULT '',
  bulletin_id   TEXT NOT NULL DEFAULT '',
  title         TEXT NOT NULL DEFAULT '',
  notices       INTEGER NOT NULL,         -- notices delivered before the escalation
  error_code    INTEGER NOT NULL DEFAULT 0,
  collection_id TEXT NOT NULL DEFAULT '', -- the needs-attention collection it was added to; '' not yet
  at            TEXT NOT NULL,
  UNIQUE (host, update_id)
);
`,
	// 4: halts (issue 16): why a night stopped its install and restart steps, and when an
	// operator resumed it.
	`
CREATE TABLE halts (
  id          INTEGER PRIMARY KEY,
  run         INTEGER NOT NULL REFERENCES runs(id),
  step        INTEGER NOT NULL DEFAULT 0, -- the step that halted (steps.id), 0 outside one
  occurrence  TEXT NOT NULL DEFAULT '',
  kind        TEXT NOT NULL,              -- not-back, same-error
  reason      TEXT NOT NULL,
  at          TEXT NOT NULL,
  resumed     TEXT                        -- when night --resume lifted it; NULL while it holds
);
CREATE INDEX halts_run ON halts (run, id);
`,
	// 5: the patched share of each measurement by location and by machine kind (issue 17's
	// follow-up report). A measurement without a step_breakdowns row (a journal written
	// before version 5) has no breakdown; the report says so instead of guessing.
	`
CREATE TABLE step_breakdowns (
  step INTEGER PRIMARY KEY REFERENCES steps(id),
  note TEXT NOT NULL DEFAULT ''            -- why a kind is unknown: the site lacks a column, ...
);

CREATE TABLE step_breakdown_groups (
  step     INTEGER NOT NULL REFERENCES steps(id),
  dim      TEXT NOT NULL,                  -- location | kind
  name     TEXT NOT NULL,                  -- the AD site ('' unknown); laptop, desktop, virtual, unknown
  eligible INTEGER NOT NULL,
  patched  INTEGER NOT NULL,
  PRIMARY KEY (step, dim, name)
);
`,
	// 6: the watcher reads the day's actions on every machine in one query (its retries of
	// failed scan triggers), by time.
	`
CREATE INDEX watch_hosts_at ON watch_hosts (at);
`,
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }
