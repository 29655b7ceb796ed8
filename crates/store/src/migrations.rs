//! Versioned schema migrations, one ordered list per backend. A migration, once released, never
//! changes: add a new one instead. Each backend records applied versions in `schema_migrations`.

/// SQLite migrations; entry `i` is schema version `i + 1`.
pub(crate) const SQLITE: &[&str] = &[
    // 1: items, logs, leases.
    "CREATE TABLE kv (
         ns TEXT NOT NULL,
         key TEXT NOT NULL,
         version INTEGER NOT NULL,
         value BLOB NOT NULL,
         PRIMARY KEY (ns, key)
     ) WITHOUT ROWID;
     CREATE TABLE log (
         stream TEXT NOT NULL,
         seq INTEGER NOT NULL,
         ts INTEGER NOT NULL,
         body BLOB NOT NULL,
         PRIMARY KEY (stream, seq)
     ) WITHOUT ROWID;
     CREATE TABLE leases (
         name TEXT PRIMARY KEY NOT NULL,
         holder TEXT NOT NULL,
         expires INTEGER NOT NULL
     ) WITHOUT ROWID;",
];

/// PostgreSQL migrations; entry `i` is schema version `i + 1`. Text columns use the "C" collation
/// so ordering and prefix ranges are bytewise, as in SQLite.
pub(crate) const POSTGRES: &[&str] = &[
    // 1: items, logs, leases.
    r#"CREATE TABLE kv (
         ns TEXT COLLATE "C" NOT NULL,
         key TEXT COLLATE "C" NOT NULL,
         version BIGINT NOT NULL,
         value BYTEA NOT NULL,
         PRIMARY KEY (ns, key)
     );
     CREATE TABLE log (
         seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         stream TEXT COLLATE "C" NOT NULL,
         ts BIGINT NOT NULL,
         body BYTEA NOT NULL
     );
     CREATE INDEX log_stream_seq ON log (stream, seq);
     CREATE TABLE leases (
         name TEXT COLLATE "C" PRIMARY KEY,
         holder TEXT NOT NULL,
         expires BIGINT NOT NULL
     );"#,
    // 2: the change stamp, bumped after every commit of items (see `Store::change_stamp`).
    "CREATE SEQUENCE kv_changes;",
];
