-- String functions and operators: length, case, substring and position, padding and
-- trimming, replace/translate/split, concatenation and NULLs, LIKE/ILIKE patterns,
-- comparison and ordering, string_agg, and multi-byte (non-ASCII) text.

-- case: str_lengths_multibyte
-- length and char_length count characters, not bytes.
SELECT id, phrase, length(phrase) AS len, char_length(phrase) AS chars, character_length(phrase) AS chars2
FROM texts ORDER BY id;

-- case: str_octet_length
-- octet_length counts UTF-8 bytes.
SELECT id, phrase, char_length(phrase) AS chars, octet_length(phrase) AS bytes
FROM texts ORDER BY id;
-- reference:
-- DuckDB's octet_length takes only BLOB; strlen counts the bytes of a VARCHAR.
SELECT id, phrase, char_length(phrase) AS chars, strlen(phrase) AS bytes
FROM texts ORDER BY id;

-- case: str_upper_lower
SELECT id, upper(name) AS up, lower(name) AS low, upper(left(name, 1)) || lower(substr(name, 2)) AS cap
FROM products ORDER BY id;

-- case: str_upper_non_ascii
SELECT id, phrase, upper(phrase) AS up FROM texts WHERE id IN (3, 4) ORDER BY id;

-- case: str_substring_from_for
SELECT id, substring(phrase FROM 5 FOR 5) AS mid, substring(phrase FROM 3) AS tail,
       substr(phrase, 1, 3) AS head, substr(phrase, 4) AS rest
FROM texts ORDER BY id;

-- case: str_position_strpos
SELECT id, phrase, position('e' IN phrase) AS pos_e, strpos(phrase, 'a') AS pos_a,
       position('é' IN phrase) AS pos_accent
FROM texts ORDER BY id;

-- case: str_left_right
SELECT id, name, left(name, 3) AS l3, right(name, 2) AS r2, left(name, -2) AS drop_last2,
       right(name, -1) AS drop_first
FROM customers ORDER BY id;

-- case: str_lpad_rpad
SELECT id, lpad(id::text, 4, '0') AS code, rpad(name, 8, '.') AS dotted, lpad(name, 4, ' ') AS cut,
       rpad(coalesce(city, ''), 10, '*-') AS city_pad
FROM customers ORDER BY id;

-- case: str_trim_family
SELECT id, '[' || trim(phrase) || ']' AS t, '[' || ltrim(phrase) || ']' AS lt,
       '[' || rtrim(phrase) || ']' AS rt, length(trim(BOTH FROM phrase)) AS both_len
FROM texts WHERE id IN (1, 2, 8, 9) ORDER BY id;

-- case: str_trim_characters
SELECT ltrim('0001230', '0') AS b, rtrim('12.5000', '0') AS c,
       TRIM(BOTH 'x' FROM 'xxabcxx') AS d, TRIM(LEADING '-' FROM '--a-b--') AS e,
       TRIM(TRAILING FROM '  sp  ') AS f, TRIM('<>' FROM '<<tag>>') AS g;

-- case: str_btrim
SELECT t.id, phrase, btrim(phrase) AS trimmed, btrim(phrase, ' .,') AS trimmed_punct,
       btrim(tags, 'ms') AS tags_trimmed
FROM texts t LEFT JOIN products p ON p.id = t.id ORDER BY t.id;
-- reference:
-- DuckDB has no btrim; its trim takes the characters as a second argument.
SELECT t.id, phrase, trim(phrase) AS trimmed, trim(phrase, ' .,') AS trimmed_punct,
       trim(tags, 'ms') AS tags_trimmed
FROM texts t LEFT JOIN products p ON p.id = t.id ORDER BY t.id;

-- case: str_replace
SELECT id, replace(phrase, ' ', '_') AS underscored, replace(phrase, 'a', '') AS no_a,
       replace(phrase, 'é', 'e') AS plain_e
FROM texts ORDER BY id;

-- case: str_reverse_repeat
SELECT id, name, reverse(name) AS rev, repeat('*', length(name)) AS stars, repeat(name, 0) AS empty
FROM products ORDER BY id;

-- case: str_split_part
SELECT id, tags, split_part(tags, ',', 1) AS first_tag, split_part(tags, ',', 2) AS second_tag,
       split_part(tags, ',', 5) AS fifth_tag
FROM products ORDER BY id;

-- case: str_split_part_email
SELECT id, email, split_part(email, '@', 1) AS local_part, lower(split_part(email, '@', 2)) AS domain
FROM employees ORDER BY id;

-- case: str_concat_null_handling
-- concat and concat_ws skip NULLs; || yields NULL.
SELECT id, concat(name, ' (', city, ')') AS c, concat_ws(', ', name, city, country, tier) AS ws,
       name || ' - ' || city AS piped
FROM customers ORDER BY id;

-- case: str_concat_ws_numbers
SELECT id, concat_ws('|', a, b, s) AS joined, concat(a, b) AS ab FROM nullable ORDER BY id;

-- case: str_starts_with
SELECT id, name, starts_with(name, 'G') AS g, starts_with(lower(name), 'g') AS g_any
FROM products ORDER BY id;

-- case: str_ascii_chr
SELECT id, name, ascii(name) AS code, chr(ascii(name) + 1) AS next_letter, chr(65) || chr(233) AS ae
FROM customers ORDER BY id;

-- case: str_translate
SELECT id, translate(phrase, 'aeiou', 'AEIOU') AS vowels_up, translate(phrase, ' -_', '') AS squeezed
FROM texts ORDER BY id;

-- case: str_md5
SELECT id, name, md5(name) AS hash, left(md5(email), 8) AS email_hash FROM employees ORDER BY id;

-- case: str_string_to_array_length
SELECT id, tags, string_to_array(tags, ',') AS parts, array_length(string_to_array(tags, ','), 1) AS n,
       cardinality(string_to_array(tags, ',')) AS card
FROM products WHERE tags <> '' ORDER BY id;

-- case: str_like_patterns
SELECT id, name FROM products
WHERE name LIKE 'G%' OR name LIKE '%e_' OR name LIKE '_____'
ORDER BY id;

-- case: str_ilike_not_like
SELECT id, name, name ILIKE 'gizmo%' AS gizmo, name NOT LIKE '%e%' AS no_e, name NOT ILIKE '%E%' AS no_e_any
FROM products ORDER BY id;

-- case: str_like_escape
-- Matching literal % and _ with an escape character.
SELECT id, phrase, phrase LIKE '%!%%' ESCAPE '!' AS has_percent,
       phrase LIKE '%#_%' ESCAPE '#' AS has_underscore, phrase NOT LIKE '%!_%' ESCAPE '!' AS no_underscore
FROM texts ORDER BY id;

-- case: str_comparison_ordering
-- Byte order (the C collation): upper case sorts before lower case.
SELECT name, name < 'Eve' AS before_eve, name >= 'b' AS lower_after_b
FROM products ORDER BY name;

-- case: str_min_max_text
SELECT country, min(name) AS first_name, max(name) AS last_name, max(city) AS last_city
FROM customers GROUP BY country ORDER BY country;

-- case: str_string_agg
SELECT country, string_agg(name, ', ' ORDER BY name) AS names, count(*) AS n
FROM customers GROUP BY country ORDER BY country;

-- case: str_string_agg_nulls_distinct
SELECT department, string_agg(DISTINCT split_part(email, '@', 2), ';' ORDER BY split_part(email, '@', 2)) AS domains
FROM employees GROUP BY department ORDER BY department;

-- case: str_empty_vs_null
SELECT id, s, s = '' AS is_empty, s IS NULL AS is_null, coalesce(nullif(s, ''), '(blank)') AS shown,
       length(s) AS len
FROM nullable ORDER BY id;

-- case: str_initials_cte
WITH parts AS (
  SELECT id, name, split_part(name, ' ', 1) AS first_word, split_part(name, ' ', 2) AS second_word
  FROM products
)
SELECT id, first_word, second_word, upper(left(first_word, 1) || left(second_word, 1)) AS initials
FROM parts ORDER BY id;

-- case: str_group_by_expression
SELECT lower(left(name, 1)) AS initial, count(*) AS n, string_agg(name, '/' ORDER BY id) AS names
FROM products GROUP BY lower(left(name, 1)) ORDER BY initial;

-- case: str_join_on_lower
SELECT e.id, e.name, e.email FROM employees e
JOIN (SELECT 'ivan@example.com' AS email UNION ALL SELECT 'ada@example.com') w ON lower(e.email) = w.email
ORDER BY e.id;

-- case: str_initcap_like_words
SELECT id, phrase, length(phrase) - length(replace(phrase, ' ', '')) + 1 AS words
FROM texts WHERE phrase <> '' ORDER BY id;
