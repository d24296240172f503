-- Pipelines run with their owner's privileges, and only owners manage them.
\set VERBOSITY default
CREATE ROLE regress_alice LOGIN;
CREATE ROLE regress_bob LOGIN;
CREATE ROLE regress_nologin NOLOGIN;
CREATE ROLE regress_stats LOGIN IN ROLE pg_read_all_stats;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE src (counter bigint) SERVER imp OPTIONS (event_rate '0', message_count '5');
CREATE TABLE target (n bigint, who text DEFAULT current_user, sess text DEFAULT session_user);
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE file_src (n bigint) SERVER files OPTIONS (path '/tmp/arroyo_priv.json', type 'source');
GRANT USAGE ON FOREIGN SERVER files TO regress_alice;

GRANT SELECT ON file_src TO regress_alice;
CREATE SCHEMA alice_s AUTHORIZATION regress_alice;
SET ROLE regress_alice;
-- Writing needs INSERT on the target columns, reading needs SELECT on the source.
SELECT stream_create('alice_p', 'INSERT INTO target (n) SELECT counter FROM src');
RESET ROLE;
GRANT INSERT (n) ON target TO regress_alice;
SET ROLE regress_alice;
SELECT stream_create('alice_p', 'INSERT INTO target (n, who) SELECT counter, ''x'' FROM src');
SELECT stream_create('alice_p', 'INSERT INTO target (n) SELECT counter FROM src');
RESET ROLE;
GRANT SELECT ON src TO regress_alice;
SET ROLE regress_alice;
SELECT stream_create('alice_p', 'INSERT INTO target (n) SELECT counter FROM src');
-- Server files need pg_read_server_files / pg_write_server_files, as with COPY.
SELECT stream_create('alice_file', 'INSERT INTO target (n) SELECT n FROM file_src');
CREATE FOREIGN TABLE alice_s.my_file (n bigint) SERVER files OPTIONS (path '/tmp/arroyo_priv.json', type 'source');
CREATE FOREIGN TABLE alice_s.my_out (n bigint) SERVER files OPTIONS (path '/tmp/arroyo_priv.json', type 'sink');
-- The pipeline runs as its owner.
SELECT stream_start('alice_p');
SELECT stream_wait('alice_p');
RESET ROLE;
SELECT n, who, sess FROM target ORDER BY n;
SELECT name, owner, state FROM stream_pipelines;

-- Another role sees the pipeline but not its query, and cannot manage it.
SET ROLE regress_bob;
SELECT name, state, query, owner FROM stream_pipelines;
SELECT stream_start('alice_p');
SELECT stream_stop('alice_p');
SELECT stream_drop('alice_p');
RESET ROLE;
-- Members of pg_read_all_stats see every query, like pg_stat_activity.
SET ROLE regress_stats;
SELECT name, query FROM stream_pipelines;
RESET ROLE;
-- The catalog table itself is not reachable.
SET ROLE regress_bob;
SELECT * FROM _arroyo_stream.pipelines;
UPDATE _arroyo_stream.pipelines SET owner = 'postgres';
RESET ROLE;

-- Privileges are checked again when a pipeline starts.
REVOKE INSERT (n) ON target FROM regress_alice;
SELECT stream_start('alice_p');
SET ROLE regress_alice;
SELECT stream_start('alice_p');
SELECT stream_drop('alice_p');
RESET ROLE;

-- A role that cannot log in cannot own a pipeline (its worker connects as the owner).
GRANT SELECT ON src TO regress_nologin;
GRANT INSERT ON target TO regress_nologin;
SET ROLE regress_nologin;
SELECT stream_create('nologin_p', 'INSERT INTO target (n) SELECT counter FROM src');
RESET ROLE;

SELECT count(*) FROM stream_pipelines;
DROP SERVER imp CASCADE;
DROP SERVER files CASCADE;
DROP TABLE target;
DROP SCHEMA alice_s;
DROP ROLE regress_alice, regress_bob, regress_nologin, regress_stats;
