//! The rewrites' output, as SQL text: what changes, and what is left alone.

use datafusion::sql::parser::{DFParserBuilder, Statement};

use super::rewrite;

fn rewritten(sql: &str) -> Result<String, String> {
    rewritten_with_hidden(sql).map(|(text, _)| text)
}

fn rewritten_with_hidden(sql: &str) -> Result<(String, Vec<String>), String> {
    let mut statement: Statement =
        DFParserBuilder::new(sql).build().and_then(|mut p| p.parse_statement()).map_err(|e| e.to_string())?;
    let done = rewrite(&mut statement, super::OrderNames::Input).map_err(|e| e.message)?;
    Ok((statement.to_string(), done.hidden))
}

fn unchanged(sql: &str) {
    let parsed = DFParserBuilder::new(sql).build().and_then(|mut p| p.parse_statement()).unwrap().to_string();
    let mut alias_first = DFParserBuilder::new(sql).build().and_then(|mut p| p.parse_statement()).unwrap();
    rewrite(&mut alias_first, super::OrderNames::AliasFirst).unwrap();
    assert_eq!(alias_first.to_string(), parsed, "{sql} should not change with output aliases first");
    assert_eq!(rewritten(sql).unwrap(), parsed, "{sql} should not change");
}

#[test]
fn fetch_first_is_a_limit() {
    assert_eq!(
        rewritten("SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS ONLY").unwrap(),
        "SELECT a FROM t ORDER BY a LIMIT 3"
    );
    assert_eq!(
        rewritten("SELECT a FROM t ORDER BY a OFFSET 2 ROWS FETCH NEXT 3 ROWS ONLY").unwrap(),
        "SELECT a FROM t ORDER BY a LIMIT 3 OFFSET 2 ROWS"
    );
    assert_eq!(
        rewritten("SELECT a FROM t ORDER BY a FETCH FIRST ROW ONLY").unwrap(),
        "SELECT a FROM t ORDER BY a LIMIT 1"
    );
    assert!(rewritten("SELECT a FROM t FETCH FIRST 10 PERCENT ROWS ONLY").unwrap_err().contains("PERCENT"));
}

#[test]
fn fetch_with_ties_keeps_rows_ranked_within_the_count() {
    assert_eq!(
        rewritten("SELECT name, salary AS pay FROM e ORDER BY pay DESC FETCH FIRST 2 ROWS WITH TIES").unwrap(),
        "SELECT * EXCLUDE (__aqueducts_order_1, __aqueducts_rank_1) FROM (SELECT name, salary AS pay, \
         salary AS __aqueducts_order_1, rank() OVER (ORDER BY salary DESC) AS __aqueducts_rank_1 FROM e) \
         AS __aqueducts_ties WHERE __aqueducts_rank_1 <= 2 ORDER BY __aqueducts_order_1 DESC"
    );
    assert!(rewritten("SELECT a FROM t FETCH FIRST 2 ROWS WITH TIES").unwrap_err().contains("ORDER BY"));
    assert!(rewritten("SELECT DISTINCT a FROM t ORDER BY a FETCH FIRST 2 ROWS WITH TIES").is_err());
}

#[test]
fn order_by_a_shadowed_input_column_sorts_by_the_input() {
    // The statement's own query keeps the hidden column, for planning to remove.
    assert_eq!(
        rewritten_with_hidden("SELECT upper(c.name) AS name FROM customers c ORDER BY c.name DESC").unwrap(),
        (
            "SELECT upper(c.name) AS name, c.name AS __aqueducts_order_1 FROM customers c \
             ORDER BY __aqueducts_order_1 DESC"
                .to_string(),
            vec!["__aqueducts_order_1".to_string()]
        )
    );
    // PostgreSQL reads a name inside an ORDER BY expression as the input column.
    assert_eq!(
        rewritten("SELECT amount * 2 AS amount FROM t ORDER BY amount * 1").unwrap(),
        "SELECT amount * 2 AS amount, amount * 1 AS __aqueducts_order_1 FROM t ORDER BY __aqueducts_order_1"
    );
    // Inside a subquery too, with its limit kept inside.
    assert_eq!(
        rewritten("SELECT * FROM (SELECT -x AS x FROM t ORDER BY t.x LIMIT 2) s").unwrap(),
        "SELECT * FROM (SELECT * EXCLUDE (__aqueducts_order_1) FROM (SELECT -x AS x, t.x AS __aqueducts_order_1 \
         FROM t ORDER BY __aqueducts_order_1 LIMIT 2) AS __aqueducts_ordered) s"
    );
}

#[test]
fn other_orderings_are_left_alone() {
    // An output name or position on its own is the output column, as DataFusion reads it.
    unchanged("SELECT upper(name) AS name FROM t ORDER BY name");
    unchanged("SELECT upper(name) AS name FROM t ORDER BY 1");
    // No alias shadows what is read.
    unchanged("SELECT upper(name) AS shout FROM t ORDER BY t.name");
    // DISTINCT needs its order in the select list; in a nested query, wildcards and
    // repeated names could not be told apart by the outer query.
    unchanged("SELECT DISTINCT upper(name) AS name FROM t ORDER BY t.name");
    unchanged("SELECT * FROM (SELECT *, upper(name) AS name FROM t ORDER BY t.name LIMIT 1) s");
    unchanged("SELECT * FROM (SELECT a AS x, b AS x FROM t ORDER BY t.x LIMIT 1) s");
}

#[test]
fn parenthesised_output_names_are_output_names() {
    unchanged("SELECT upper(name) AS name FROM t ORDER BY (name)");
}

#[test]
fn column_lists_leave_aliases_the_query_reads_by_name() {
    // `ORDER BY a` reads the alias `a`: renaming it would make it read the input's `a`.
    unchanged("WITH t(v) AS (SELECT b AS a FROM s ORDER BY a LIMIT 1) SELECT * FROM t");
    assert_eq!(
        rewritten("WITH f(i, a) AS (SELECT 1, 1) SELECT * FROM f").unwrap(),
        "WITH f (i, a) AS (SELECT 1 AS i, 1 AS a) SELECT * FROM f"
    );
}

#[test]
fn with_ties_refuses_positions_past_a_wildcard() {
    assert!(
        rewritten("SELECT *, a * 2 AS d FROM t ORDER BY 2 FETCH FIRST 3 ROWS WITH TIES")
            .unwrap_err()
            .contains("before any *")
    );
}

#[test]
fn table_functions_over_columns_become_lateral_unnests() {
    assert_eq!(
        rewritten("SELECT * FROM t, generate_series(1, t.n) AS g(i)").unwrap(),
        "SELECT * FROM t, LATERAL (SELECT unnest(generate_series(1, t.n)) AS i) AS g"
    );
    // `unnest` in FROM is the parser's own UNNEST factor, which DataFusion plans over
    // columns; constants stay table functions.
    unchanged("SELECT * FROM t, unnest(t.tags) AS u(tag)");
    unchanged("SELECT * FROM generate_series(1, 3) AS g(n)");
}

#[test]
fn refined_named_windows_are_written_out() {
    assert_eq!(
        rewritten("SELECT sum(x) OVER w2 FROM t WINDOW w1 AS (PARTITION BY g), w2 AS (w1 ORDER BY x)").unwrap(),
        "SELECT sum(x) OVER w2 FROM t WINDOW w1 AS (PARTITION BY g), w2 AS (PARTITION BY g ORDER BY x)"
    );
}

#[test]
fn regular_expressions_let_dot_match_a_newline() {
    assert_eq!(rewritten("SELECT a ~ 'x.y' FROM t").unwrap(), "SELECT a ~ '(?s)x.y' FROM t");
    assert_eq!(rewritten("SELECT a !~* p FROM t").unwrap(), "SELECT a !~* ('(?s)' || p) FROM t");
    assert_eq!(
        rewritten("SELECT regexp_replace(a, 'x.y', 'z', 'g') FROM t").unwrap(),
        "SELECT regexp_replace(a, '(?s)x.y', 'z', 'g') FROM t"
    );
    // Newline-sensitive flags, and flags known only at run time, keep the pattern.
    unchanged("SELECT regexp_like(a, 'x.y', 'm') FROM t");
    unchanged("SELECT regexp_match(a, 'x.y', f) FROM t");
    // Without a `.` there is nothing to change.
    unchanged("SELECT a ~ '^[0-9]+$' FROM t");
}
