-- A counter every write bumps, by trigger, whoever the writer is (any replica, an
-- admin command, another tool). Servers cache what they read and poll this counter:
-- a change anywhere empties their caches.
CREATE TABLE store_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);
INSERT INTO store_generation (id, value) VALUES (1, 0);

CREATE FUNCTION bump_store_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE store_generation SET value = value + 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_store_generation();
CREATE TRIGGER spaces_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON spaces
    FOR EACH STATEMENT EXECUTE FUNCTION bump_store_generation();
CREATE TRIGGER memberships_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION bump_store_generation();
CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_store_generation();
