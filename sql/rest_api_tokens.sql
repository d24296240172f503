-- The REST API's bearer tokens from SQL: stream_api_token_create / stream_api_token_revoke and
-- the stream_api_tokens view (the HTTP side is test/rest_api_test.sh). Tokens are random, so
-- only their shape is shown.
\set VERBOSITY default
CREATE ROLE regress_tok_a LOGIN;
CREATE ROLE regress_tok_b LOGIN;
SET ROLE regress_tok_a;
SELECT t ~ '^arroyo_[0-9a-f]{64}$' AS well_formed FROM stream_api_token_create('ci') t;
SELECT length(stream_api_token_create('deploy'));
SELECT stream_api_token_create('ci');
SELECT stream_api_token_create('');
SELECT stream_api_token_create(NULL);
SELECT role, name FROM stream_api_tokens ORDER BY name;
-- The table itself is out of reach.
SELECT * FROM _arroyo_stream.api_tokens;
RESET ROLE;
SET ROLE regress_tok_b;
SELECT role, name FROM stream_api_tokens;
SELECT stream_api_token_revoke('ci', 'regress_tok_a');
SELECT stream_api_token_revoke('ci');
SELECT stream_api_token_create('ci') IS NOT NULL AS created;
RESET ROLE;
-- A superuser sees every role's tokens and may revoke them; only SHA-256 hashes are stored.
SELECT role, name FROM stream_api_tokens ORDER BY role::text, name;
SELECT count(*), count(DISTINCT hash), min(length(hash)) FROM _arroyo_stream.api_tokens
WHERE role_name IN ('regress_tok_a', 'regress_tok_b');
SELECT stream_api_token_revoke('deploy', 'regress_tok_a');
SET ROLE regress_tok_a;
SELECT stream_api_token_revoke('ci');
SELECT stream_api_token_revoke('ci');
SELECT role, name FROM stream_api_tokens;
RESET ROLE;
-- A dropped role's tokens stop counting (and are no longer listed).
DROP ROLE regress_tok_b;
SELECT role, name FROM stream_api_tokens;
DELETE FROM _arroyo_stream.api_tokens WHERE role_name IN ('regress_tok_a', 'regress_tok_b');
DROP ROLE regress_tok_a;
