-- arroyo_stream 0.3.0 -> 0.4.0 (also how 0.4.0 installs: CREATE EXTENSION runs 0.3.0's script,
-- then this one). Each feature's SQL objects follow, in sections.
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.4.0'" to load this file. \quit

-- REST API (issue 20 item 4): bearer tokens of the API worker. A role makes its own token with
-- stream_api_token_create(name); only the token's SHA-256 hash is kept. Tokens are not dumped
-- (no pg_extension_config_dump): role oids differ in another cluster; make new ones there.
CREATE TABLE _arroyo_stream.api_tokens (
  role       oid NOT NULL,
  role_name  name NOT NULL,  -- checked with the oid at each request, against a reused oid
  name       text NOT NULL CHECK (name <> ''),
  hash       bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (role, name)
);
REVOKE ALL ON _arroyo_stream.api_tokens FROM PUBLIC;
CREATE FUNCTION @extschema@.stream_api_token_create(name text) RETURNS text
  AS 'MODULE_PATHNAME', 'arroyo_stream_api_token_create' LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION @extschema@.stream_api_token_revoke(name text, role regrole DEFAULT NULL)
  RETURNS void AS 'MODULE_PATHNAME', 'arroyo_stream_api_token_revoke' LANGUAGE C VOLATILE;
-- The tokens of the roles whose privileges the current user has (never their hashes).
CREATE VIEW @extschema@.stream_api_tokens WITH (security_barrier) AS
SELECT r.oid::regrole AS role, t.name, t.created_at
FROM _arroyo_stream.api_tokens t
JOIN pg_catalog.pg_roles r ON r.oid = t.role AND r.rolname = t.role_name
WHERE pg_catalog.pg_has_role(r.oid, 'USAGE');
GRANT SELECT ON @extschema@.stream_api_tokens TO PUBLIC;
