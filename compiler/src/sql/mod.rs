//! The SQL front end: a stage's query parsed ([`parse`]), rewritten where DataFusion's
//! planner reads standard SQL differently from PostgreSQL ([`rewrite`]), and the
//! session that plans it ([`session`]) with our operator planning ([`planner`]) and
//! logical rules ([`rules`]).
//!
//! PostgreSQL is the reference for what a query means. A gap is closed at the depth
//! where it is: name resolution in the syntax tree (`rewrite`), types and plans in
//! DataFusion's analyzer and optimizer (`rules`), missing functions in the runtime
//! (`aqueducts_runtime::functions`), because executors must decode what they call.

pub mod parse;
pub mod planner;
pub mod rewrite;
pub mod rules;
pub mod session;

pub use parse::{MAX_OPERATOR_CHAIN, ParsedQuery, SqlProblem, TableRead, normalize_name, parse_query};
pub use session::compile_context;
