-- Set-returning functions: in the select list (several in lockstep, nested, over aggregates)
-- and in FROM lateral to a stream (WITH ORDINALITY, ROWS FROM, CROSS JOIN LATERAL, LEFT JOIN
-- LATERAL … ON), built-in and user-defined, through a view, under windowed and updating
-- aggregates, over an updating input. Every result is compared with PostgreSQL's batch query
-- over the same rows.
\getenv abs_srcdir PG_ABS_SRCDIR
\set events_path :abs_srcdir '/data/srf_events.json'
\set customers_path :abs_srcdir '/data/join_customers.json'
\set VERBOSITY default
SET timezone = 'UTC';
-- Everything in a schema of its own, dropped at the end.
CREATE SCHEMA srf;
SET search_path = srf, public;
CREATE SERVER srf_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE ev (id int, tags text[], doc jsonb, msg text, ts timestamptz) SERVER srf_files
  OPTIONS (path :'events_path', type 'source', event_time_field 'ts');
-- The same rows, as a table for the batch queries.
CREATE TABLE ev_b (id int, tags text[], doc jsonb, msg text, ts timestamptz);
INSERT INTO ev_b VALUES
  (1, '{a,b,c}', '{"items": [1, 2], "attrs": {"x": 1, "y": "z"}, "recs": [{"a": 1, "b": "one"}, {"a": 2}]}', 'k1=v1;k2=v2', '2026-03-01 00:00:01+00'),
  (2, '{}', '{"items": [], "attrs": {}, "recs": []}', 'none', '2026-03-01 00:00:20+00'),
  (3, '{d}', '{"items": [3, 4, 5], "attrs": {"p": true}}', 'k3=v3', '2026-03-01 00:00:40+00'),
  (4, NULL, '{"other": null}', NULL, '2026-03-01 00:00:50+00'),
  (5, '{b,e,NULL}', '{"items": [6], "attrs": {"q": [1, 2]}, "recs": [{"a": 5, "b": "five"}]}', 'a=1;b=2;c=3', '2026-03-01 00:01:05+00'),
  (6, '{a,a}', '{"items": [7, 8, 9, 10]}', 'x=1', '2026-03-01 00:01:30+00');
CREATE FOREIGN TABLE customers (id int NOT NULL, name text, region text) SERVER srf_files
  OPTIONS (path :'customers_path', type 'source', format 'debezium_json', primary_key 'id');
CREATE TABLE customers_b (id int, name text, region text);
INSERT INTO customers_b VALUES (1, 'anne', 'east'), (2, 'bob', 'east'), (5, 'eve', 'west');
CREATE FUNCTION same(target text, batch text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differ bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                 target, batch, batch, target) INTO differ;
  RETURN differ = 0;
END $$;
-- Creates and starts a pipeline (it runs once this transaction commits), and notes its name.
CREATE TABLE started (name text);
CREATE FUNCTION go(name text, query text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO started VALUES (name);
  PERFORM stream_create(name, query);
  PERFORM stream_start(name);
END $$;

-- 1. unnest in the select list: one row per element, none for an empty or NULL array.
CREATE TABLE tag_rows (id int, tag text);
SELECT go('tag_rows', $$INSERT INTO tag_rows SELECT id, unnest(tags) FROM ev$$);
SELECT stream_wait('tag_rows'), same('tag_rows', $$SELECT id, unnest(tags) FROM ev_b$$);
SELECT * FROM tag_rows ORDER BY id, tag;

-- 2. Several in one select list run in lockstep, the shorter ones padded with NULL; an
-- expression over them, and one nested in another.
CREATE TABLE lockstep (id int, tag text, n int, item jsonb, pos bigint);
SELECT go('lockstep', $$INSERT INTO lockstep SELECT id, upper(unnest(tags)), generate_series(1, 2),
  jsonb_array_elements(doc->'items'), NULL::bigint FROM ev WHERE id <> 4$$);
SELECT stream_wait('lockstep'), same('lockstep', $$SELECT id, upper(unnest(tags)), generate_series(1, 2), jsonb_array_elements(doc->'items'), NULL::bigint
    FROM ev_b WHERE id <> 4$$);
SELECT * FROM lockstep ORDER BY id, n NULLS LAST, item;
CREATE TABLE nested (id int, n int);
SELECT go('nested', $$INSERT INTO nested SELECT id, generate_series(1, jsonb_array_elements(doc->'items')::int) FROM ev WHERE id < 4$$);
SELECT stream_wait('nested'), same('nested', $$SELECT id, generate_series(1, jsonb_array_elements(doc->'items')::int) FROM ev_b WHERE id < 4$$);
SELECT id, count(*), sum(n) FROM nested GROUP BY id ORDER BY id;

-- 3. In FROM, lateral: WITH ORDINALITY, column aliases, a WHERE over the function's columns.
CREATE TABLE ordinal (id int, tag text, n bigint);
SELECT go('ordinal', $$INSERT INTO ordinal SELECT e.id, u.tag, u.n
  FROM ev e, LATERAL unnest(e.tags) WITH ORDINALITY AS u(tag, n) WHERE u.tag IS DISTINCT FROM 'c'$$);
SELECT stream_wait('ordinal'), same('ordinal', $$SELECT e.id, u.tag, u.n FROM ev_b e, LATERAL unnest(e.tags) WITH ORDINALITY AS u(tag, n)
    WHERE u.tag IS DISTINCT FROM 'c'$$);
SELECT * FROM ordinal ORDER BY id, n;
-- CROSS JOIN LATERAL jsonb_each (a composite result: its columns), ROWS FROM in lockstep.
CREATE TABLE attrs (id int, key text, value jsonb);
SELECT go('attrs', $$INSERT INTO attrs SELECT e.id, a.key, a.value
  FROM ev e CROSS JOIN LATERAL jsonb_each(e.doc->'attrs') AS a$$);
SELECT stream_wait('attrs'), same('attrs', $$SELECT e.id, a.key, a.value FROM ev_b e CROSS JOIN LATERAL jsonb_each(e.doc->'attrs') AS a$$);
SELECT * FROM attrs ORDER BY id, key;
CREATE TABLE rows_from (id int, tag text, item jsonb, n bigint);
SELECT go('rows_from', $$INSERT INTO rows_from SELECT e.id, r.tag, r.item, r.n
  FROM ev e, ROWS FROM (unnest(e.tags), jsonb_array_elements(e.doc->'items')) WITH ORDINALITY AS r(tag, item, n)$$);
SELECT stream_wait('rows_from'), same('rows_from', $$SELECT e.id, r.tag, r.item, r.n
  FROM ev_b e, ROWS FROM (unnest(e.tags), jsonb_array_elements(e.doc->'items')) WITH ORDINALITY AS r(tag, item, n)$$);
SELECT count(*), count(tag), count(item), max(n) FROM rows_from;
-- A whole-row reference to the stream in the function's arguments.
CREATE TABLE fields (id int, key text, value jsonb);
SELECT go('fields', $$INSERT INTO fields SELECT e.id, f.key, f.value
  FROM ev e, LATERAL jsonb_each(to_jsonb(e) - 'doc' - 'ts') AS f WHERE e.id < 3$$);
SELECT stream_wait('fields'), same('fields', $$SELECT e.id, f.key, f.value
  FROM ev_b e, LATERAL jsonb_each(to_jsonb(e) - 'doc' - 'ts') AS f WHERE e.id < 3$$);
SELECT * FROM fields ORDER BY id, key;
-- A column definition list (a function returning record).
CREATE TABLE recs (id int, a int, b text);
SELECT go('recs', $$INSERT INTO recs SELECT e.id, r.a, r.b
  FROM ev e, jsonb_to_recordset(e.doc->'recs') AS r(a int, b text)$$);
SELECT stream_wait('recs'), same('recs', $$SELECT e.id, r.a, r.b FROM ev_b e, jsonb_to_recordset(e.doc->'recs') AS r(a int, b text)$$);
SELECT * FROM recs ORDER BY id, a;

-- Functions that return one row (a scalar, a record with a column definition list), alone and
-- in ROWS FROM with a set-returning one.
CREATE TABLE one_row (id int, lower_msg text, a int, b text);
SELECT go('one_row', $$INSERT INTO one_row SELECT e.id, l, r.a, r.b
  FROM ev e, lower(e.msg) l, jsonb_to_record(e.doc->'recs'->0) AS r(a int, b text)$$);
SELECT stream_wait('one_row'), same('one_row', $$SELECT e.id, l, r.a, r.b
  FROM ev_b e, lower(e.msg) l, jsonb_to_record(e.doc->'recs'->0) AS r(a int, b text)$$);
SELECT * FROM one_row ORDER BY id;
CREATE TABLE mixed (id int, item jsonb, a int, b text, n bigint);
SELECT go('mixed', $$INSERT INTO mixed SELECT e.id, r.item, r.a, r.b, r.n
  FROM ev e, ROWS FROM (jsonb_array_elements(e.doc->'items'), jsonb_to_record(e.doc->'recs'->0) AS (a int, b text))
    WITH ORDINALITY AS r(item, a, b, n)$$);
SELECT stream_wait('mixed'), same('mixed', $$SELECT e.id, r.item, r.a, r.b, r.n
  FROM ev_b e, ROWS FROM (jsonb_array_elements(e.doc->'items'), jsonb_to_record(e.doc->'recs'->0) AS (a int, b text))
    WITH ORDINALITY AS r(item, a, b, n)$$);
SELECT * FROM mixed ORDER BY id, n;

-- 4. LEFT JOIN LATERAL … ON: a row whose function gives nothing (an empty or NULL array), or
-- nothing that passes ON, is kept once, NULL-padded.
CREATE TABLE items_left (id int, item jsonb);
SELECT go('items_left', $$INSERT INTO items_left SELECT e.id, x.item
  FROM ev e LEFT JOIN LATERAL jsonb_array_elements(e.doc->'items') AS x(item) ON true$$);
SELECT stream_wait('items_left'), same('items_left', $$SELECT e.id, x.item FROM ev_b e LEFT JOIN LATERAL jsonb_array_elements(e.doc->'items') AS x(item) ON true$$);
SELECT id, count(item) AS items, count(*) AS rows FROM items_left GROUP BY id ORDER BY id;
CREATE TABLE items_on (id int, item jsonb);
SELECT go('items_on', $$INSERT INTO items_on SELECT e.id, x.item
  FROM ev e LEFT JOIN LATERAL jsonb_array_elements(e.doc->'items') AS x(item) ON x.item::int > 4$$);
SELECT stream_wait('items_on'), same('items_on', $$SELECT e.id, x.item FROM ev_b e LEFT JOIN LATERAL jsonb_array_elements(e.doc->'items') AS x(item) ON x.item::int > 4$$);
SELECT * FROM items_on ORDER BY id, item;

-- 5. regexp_matches, and user-defined functions (SQL returning TABLE, plpgsql returning SETOF a
-- composite type).
CREATE TABLE pairs (id int, m text[]);
SELECT go('pairs', $$INSERT INTO pairs SELECT id, regexp_matches(msg, '(\w+)=(\w+)', 'g') FROM ev$$);
SELECT stream_wait('pairs'), same('pairs', $$SELECT id, regexp_matches(msg, '(\w+)=(\w+)', 'g') FROM ev_b$$);
SELECT * FROM pairs ORDER BY id, m;
CREATE FUNCTION split_pairs(s text) RETURNS TABLE (k text, v text) LANGUAGE sql IMMUTABLE AS
  $$SELECT split_part(p, '=', 1), split_part(p, '=', 2) FROM unnest(string_to_array(s, ';')) p$$;
CREATE TYPE tagged AS (tag text, len int);
CREATE FUNCTION tag_lengths(tags text[]) RETURNS SETOF tagged LANGUAGE plpgsql SET search_path = srf AS $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY coalesce(tags, '{}') LOOP
    RETURN NEXT ROW(t, length(t))::tagged;
  END LOOP;
END $$;
CREATE TABLE kv (id int, k text, v text);
SELECT go('kv', $$INSERT INTO kv SELECT e.id, p.k, p.v FROM ev e, split_pairs(e.msg) p$$);
SELECT stream_wait('kv'), same('kv', $$SELECT e.id, p.k, p.v FROM ev_b e, split_pairs(e.msg) p$$);
SELECT * FROM kv ORDER BY id, k;
CREATE TABLE tag_len (id int, t tagged, tag text, len int);
SELECT go('tag_len', $$INSERT INTO tag_len SELECT e.id, tag_lengths(e.tags), l.tag, l.len
  FROM ev e, tag_lengths(e.tags) l$$);
SELECT stream_wait('tag_len'), same('tag_len', $$SELECT e.id, tag_lengths(e.tags), l.tag, l.len FROM ev_b e, tag_lengths(e.tags) l$$);
SELECT count(*), count(DISTINCT t), sum(len) FROM tag_len;

-- 6. Through a view, and under a windowed and an updating aggregate.
CREATE VIEW ev_tags AS SELECT id, ts, unnest(tags) AS tag FROM ev;
CREATE VIEW ev_b_tags AS SELECT id, ts, unnest(tags) AS tag FROM ev_b;
CREATE TABLE view_tags (id int, tag text);
SELECT go('view_tags', $$INSERT INTO view_tags SELECT id, tag FROM ev_tags WHERE tag <> 'a'$$);
SELECT stream_wait('view_tags'), same('view_tags', $$SELECT id, tag FROM ev_b_tags WHERE tag <> 'a'$$);
CREATE TABLE tags_per_minute (w tstzrange, tag text, n bigint);
SELECT go('tags_per_minute', $$INSERT INTO tags_per_minute SELECT tumble(interval '1 minute') AS w, tag, count(*)
  FROM ev_tags GROUP BY w, tag$$);
SELECT stream_wait('tags_per_minute'), same('tags_per_minute', $$SELECT tstzrange(date_trunc('minute', ts), date_trunc('minute', ts) + interval '1 minute'), tag, count(*)
    FROM ev_b_tags GROUP BY 1, tag$$);
SELECT * FROM tags_per_minute ORDER BY w, tag;
CREATE TABLE tag_counts (tag text UNIQUE NULLS NOT DISTINCT, n bigint);
SELECT go('tag_counts', $$INSERT INTO tag_counts SELECT t, count(*) FROM ev, LATERAL unnest(tags) t GROUP BY t$$);
SELECT stream_wait('tag_counts'), same('tag_counts', $$SELECT t, count(*) FROM ev_b, LATERAL unnest(tags) t GROUP BY t$$);
SELECT * FROM tag_counts ORDER BY tag;
-- Over aggregates: unnest(array_agg(…)) per group follows each group's changes.
CREATE TABLE regrouped (id_parity int, id int);
SELECT go('regrouped', $$INSERT INTO regrouped SELECT id % 2, unnest(array_agg(id)) FROM ev GROUP BY id % 2$$);
SELECT stream_wait('regrouped'), same('regrouped', $$SELECT id % 2, unnest(array_agg(id)) FROM ev_b GROUP BY id % 2$$);
SELECT * FROM regrouped ORDER BY id;

-- 7. Over an updating input (Debezium changes): a delete expands to the same rows as deletes.
CREATE TABLE name_letters (id int, letter text, n bigint);
SELECT go('name_letters', $$INSERT INTO name_letters SELECT c.id, l.letter, l.n
  FROM customers c, LATERAL regexp_split_to_table(c.name, '') WITH ORDINALITY AS l(letter, n)$$);
SELECT stream_wait('name_letters'), same('name_letters', $$SELECT c.id, l.letter, l.n FROM customers_b c, LATERAL regexp_split_to_table(c.name, '') WITH ORDINALITY AS l(letter, n)$$);
SELECT * FROM name_letters ORDER BY id, n;

-- 8. Refused.
CREATE TABLE ints (n int);
SELECT stream_create('bad1', $$INSERT INTO ints SELECT g FROM generate_series(1, 3) g$$);
SELECT stream_create('bad2', $$INSERT INTO ints SELECT g FROM generate_series(1, 3) g, ev$$);
SELECT stream_create('bad3', $$INSERT INTO ints SELECT id FROM ev RIGHT JOIN generate_series(1, 3) g ON g = ev.id$$);
SELECT stream_create('bad4', $$INSERT INTO ints SELECT generate_series(1, id) FROM ev GROUP BY generate_series(1, id)$$);

SELECT count(stream_drop(name)) AS dropped FROM stream_pipelines WHERE name IN (TABLE started);
SET client_min_messages = warning;
DROP SCHEMA srf CASCADE;
DROP SERVER srf_files CASCADE;
RESET client_min_messages;
RESET search_path;
