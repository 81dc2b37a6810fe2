-- POSIX regular expressions: the ~ ~* !~ !~* operators, regexp_replace (flags, backreferences),
-- regexp_split_to_array, SIMILAR TO, substring(... FROM pattern), and extracting digits,
-- emails and domains with anchors, classes, alternation and quantifiers.

-- case: re_match_operators
SELECT id, phrase, phrase ~ '[0-9]' AS has_digit, phrase ~* 'upper|fox' AS ci_match,
       phrase !~ '\s' AS no_space, phrase !~* '^the' AS not_the
FROM texts ORDER BY id;

-- case: re_filter_case_insensitive
SELECT id, name FROM products WHERE name ~* '^gizmo' OR name ~ 'ck' ORDER BY id;

-- case: re_anchors_and_classes
SELECT id, phrase, phrase ~ '^[a-z_]+$' AS snake, phrase ~ '^[A-Z]' AS starts_upper,
       phrase ~ '[[:digit:]]{4}' AS four_digits, phrase ~ '[^[:ascii:]]' AS non_ascii
FROM texts WHERE phrase IS NOT NULL ORDER BY id;

-- case: re_email_validation
SELECT id, email, email ~ '^[a-z]+@example\.(com|org)$' AS strict_ok,
       email ~* '^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$' AS loose_ok
FROM employees ORDER BY id;

-- case: re_replace_first_vs_global
SELECT id, phrase, regexp_replace(phrase, '[aeiou]', '*') AS first_only,
       regexp_replace(phrase, '[aeiou]', '*', 'g') AS all_vowels
FROM texts ORDER BY id;

-- case: re_replace_backreference
SELECT id, name, regexp_replace(name, '^(\S+) (\S+)$', '\2, \1') AS swapped,
       regexp_replace(name, '([A-Z])([a-z]+)', '\1.', 'g') AS abbreviated,
       regexp_replace(tags, '^(\w+),(\w+)', '\2+\1') AS first_two_swapped
FROM products ORDER BY id;

-- case: re_replace_case_insensitive
SELECT id, email, regexp_replace(email, 'EXAMPLE', 'corp', 'i') AS rebranded,
       regexp_replace(email, '@.*$', '') AS user_part
FROM employees ORDER BY id;

-- case: re_replace_normalize_whitespace
SELECT id, '[' || regexp_replace(phrase, '\s+', ' ', 'g') || ']' AS squeezed,
       regexp_replace(phrase, '^\s+|\s+$', '', 'g') AS trimmed,
       regexp_replace(phrase, '[^a-zA-Z0-9]', '', 'g') AS alnum_only
FROM texts ORDER BY id;

-- case: re_extract_digits
SELECT id, phrase, regexp_replace(phrase, '\D', '', 'g') AS digits_only,
       nullif(regexp_replace(phrase, '[^0-9]', '', 'g'), '')::bigint AS as_number
FROM texts WHERE phrase ~ '\d' ORDER BY id;

-- case: re_split_to_array
SELECT id, phrase, regexp_split_to_array(phrase, '\s+') AS words,
       array_length(regexp_split_to_array(phrase, '[,-]'), 1) AS n_parts
FROM texts WHERE id IN (1, 3, 5, 6, 10) ORDER BY id;

-- case: re_split_tags
SELECT id, tags, regexp_split_to_array(tags, ',') AS tag_list,
       cardinality(regexp_split_to_array(tags, ',')) AS n_tags
FROM products WHERE tags <> '' ORDER BY id;

-- case: re_similar_to
-- SIMILAR TO matches the whole string; a pattern without % or _ behaves as a regex.
SELECT id, phrase, phrase SIMILAR TO '[a-z]+-[0-9]+-[0-9]+' AS code_like,
       phrase SIMILAR TO '(snake|camel)[a-z_]*' AS case_name,
       phrase NOT SIMILAR TO '[a-zA-Z ]*' AS not_only_letters
FROM texts ORDER BY id;

-- case: re_like_vs_regex
SELECT id, name, name LIKE 'G%' AS like_g, name ~ '^G' AS regex_g,
       name ILIKE '%mini%' AS ilike_mini, name ~* 'mini' AS regex_mini
FROM products ORDER BY id;

-- case: re_substring_capture_group
-- substring(s FROM pattern) returns the first parenthesised group.
SELECT id, phrase, substring(phrase FROM '(\d{4})') AS year,
       substring(phrase FROM '([a-z.]+)@') AS mail_user
FROM texts ORDER BY id;
-- reference:
-- DuckDB's substring takes only positions; regexp_extract returns the group.
SELECT id, phrase, nullif(regexp_extract(phrase, '(\d{4})', 1), '') AS year,
       nullif(regexp_extract(phrase, '([a-z.]+)@', 1), '') AS mail_user
FROM texts ORDER BY id;

-- case: re_domain_grouping
SELECT lower(substring(email FROM '@(.+)$')) AS domain, count(*) AS n
FROM employees WHERE email IS NOT NULL GROUP BY 1 ORDER BY n DESC, domain;
-- reference:
-- DuckDB's substring takes only positions; regexp_extract returns the group.
SELECT lower(regexp_extract(email, '@(.+)$', 1)) AS domain, count(*) AS n
FROM employees WHERE email IS NOT NULL GROUP BY 1 ORDER BY n DESC, domain;

-- case: re_count_matches
SELECT id, phrase, regexp_count(phrase, '[aeiou]') AS vowels, regexp_count(phrase, '\d') AS digits
FROM texts WHERE phrase IS NOT NULL ORDER BY id;
-- reference:
-- DuckDB has no regexp_count (new in PostgreSQL 15); count the matches it extracts.
SELECT id, phrase, len(regexp_extract_all(phrase, '[aeiou]')) AS vowels,
       len(regexp_extract_all(phrase, '\d')) AS digits
FROM texts WHERE phrase IS NOT NULL ORDER BY id;

-- case: re_like_function
SELECT id, name FROM customers WHERE regexp_like(name, '^[a-e]', 'i') ORDER BY id;
-- reference:
-- DuckDB spells PostgreSQL 15's regexp_like as regexp_matches (a boolean).
SELECT id, name FROM customers WHERE regexp_matches(name, '^[a-e]', 'i') ORDER BY id;

-- case: re_substr_function
SELECT id, phrase, regexp_substr(phrase, '[0-9]+') AS first_number,
       regexp_substr(phrase, '\w+$') AS last_word
FROM texts WHERE phrase IS NOT NULL ORDER BY id;
-- reference:
-- DuckDB has no regexp_substr (new in PostgreSQL 15); regexp_extract gives the match.
SELECT id, phrase, nullif(regexp_extract(phrase, '[0-9]+'), '') AS first_number,
       nullif(regexp_extract(phrase, '\w+$'), '') AS last_word
FROM texts WHERE phrase IS NOT NULL ORDER BY id;

-- case: re_quantifiers_alternation
SELECT id, phrase, phrase ~ '^(The|UPPER) ' AS starts_known, phrase ~ 'o{2,}|e{2}' AS double_letter,
       phrase ~ '\d{3,}' AS long_number, phrase ~ '^.{0,6}$' AS short
FROM texts WHERE phrase IS NOT NULL ORDER BY id;

-- case: re_classify_cte
WITH classified AS (
  SELECT id, phrase,
         CASE WHEN phrase ~ '@' THEN 'contact'
              WHEN phrase ~ '^[a-z]+(-\d+)+$' THEN 'code'
              WHEN phrase ~ '^[a-z]+(_[a-z]+)+$' THEN 'identifier'
              WHEN phrase ~ '^\s*$' THEN 'blank'
              ELSE 'text' END AS kind
  FROM texts WHERE phrase IS NOT NULL
)
SELECT kind, count(*) AS n, string_agg(id::text, ',' ORDER BY id) AS ids
FROM classified GROUP BY kind ORDER BY kind;

-- case: re_dot_matches_newline
-- In PostgreSQL `.` matches a newline, for literal patterns and computed ones alike;
-- DuckDB's RE2 needs its `s` option for that.
SELECT id,
       (phrase || chr(10) || 'tail') ~ 'e.tail' AS spans_lines,
       (phrase || chr(10) || 'tail') ~ ('e' || '.tail') AS spans_lines_computed,
       regexp_replace(phrase || chr(10) || 'tail', '[a-z]+.tail', '<end>') AS replaced
FROM texts WHERE phrase IS NOT NULL ORDER BY id;
-- reference:
SELECT id,
       regexp_matches(phrase || chr(10) || 'tail', 'e.tail', 's') AS spans_lines,
       regexp_matches(phrase || chr(10) || 'tail', 'e' || '.tail', 's') AS spans_lines_computed,
       regexp_replace(phrase || chr(10) || 'tail', '[a-z]+.tail', '<end>', 's') AS replaced
FROM texts WHERE phrase IS NOT NULL ORDER BY id;
