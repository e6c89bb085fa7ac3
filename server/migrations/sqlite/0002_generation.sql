-- A counter every write bumps, by trigger, whoever the writer is (the server, an
-- admin command, another tool). Servers cache what they read and poll this counter:
-- a change anywhere empties their caches.
CREATE TABLE store_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO store_generation (id, value) VALUES (1, 0);

CREATE TRIGGER users_insert AFTER INSERT ON users BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER users_update AFTER UPDATE ON users BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER users_delete AFTER DELETE ON users BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER spaces_insert AFTER INSERT ON spaces BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER spaces_update AFTER UPDATE ON spaces BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER spaces_delete AFTER DELETE ON spaces BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER memberships_insert AFTER INSERT ON memberships BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER memberships_update AFTER UPDATE ON memberships BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER memberships_delete AFTER DELETE ON memberships BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER tokens_insert AFTER INSERT ON tokens BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER tokens_update AFTER UPDATE ON tokens BEGIN UPDATE store_generation SET value = value + 1; END;
CREATE TRIGGER tokens_delete AFTER DELETE ON tokens BEGIN UPDATE store_generation SET value = value + 1; END;
