-- The same schema as the SQLite one; see migrations/sqlite/0001_init.sql for why.
-- Space ids collate as bytes ("C"), as in SQLite, so that `spaces` is sorted the same
-- way on both backends whatever the database's locale.

-- Space ids are 32 random bytes, unpadded base64url (43 characters).
CREATE TABLE spaces (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- Users log in with a login and a password; only an argon2id hash is kept.
CREATE TABLE users (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login            TEXT   NOT NULL UNIQUE,
    password_hash    TEXT   NOT NULL,
    -- A default that names a space the user has left is kept and reads as "undefined".
    default_space_id TEXT COLLATE "C" REFERENCES spaces (id),
    created_at       BIGINT NOT NULL
);

-- The primary key (user_id, space_id) is the index that answers
-- GET /user/spaces: one range scan, already sorted and unique.
CREATE TABLE memberships (
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    space_id TEXT COLLATE "C" NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, space_id)
);

CREATE INDEX memberships_by_space ON memberships (space_id);

-- Tokens are shown once; only their SHA-256 is kept.
CREATE TABLE tokens (
    hash       BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
