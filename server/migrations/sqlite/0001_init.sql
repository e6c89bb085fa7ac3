-- Space ids are 32 random bytes, unpadded base64url (43 characters).
CREATE TABLE spaces (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Users log in with a login and a password; only an argon2id hash is kept.
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    login            TEXT    NOT NULL UNIQUE,
    password_hash    TEXT    NOT NULL,
    -- Not a foreign key into memberships on purpose: a default that names a
    -- space the user has left is kept and reads as "undefined".
    default_space_id TEXT    REFERENCES spaces (id),
    created_at       INTEGER NOT NULL
);

-- The primary key (user_id, space_id) is the index that answers
-- GET /user/spaces: one range scan, already sorted and unique.
CREATE TABLE memberships (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    space_id TEXT    NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, space_id)
) WITHOUT ROWID;

CREATE INDEX memberships_by_space ON memberships (space_id);

-- Tokens are shown once; only their SHA-256 is kept.
CREATE TABLE tokens (
    hash       BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) WITHOUT ROWID;
