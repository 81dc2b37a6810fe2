//! The pipeline spec: the Aqueducts "v2" format as Rust types.
//!
//! These types derive `Serialize` and `JsonSchema` (the JSON schema in `json_schema/` is
//! generated from them) and are read through [`super::de`], which keeps every value's
//! position. Tagged enums (`type: file`, `operation: append`) implement `Deserialize`
//! through `tagged_enum!` ([`super::tagged`]) so that the tag is matched leniently
//! (`file`, `File`) and errors inside a variant keep their positions.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::spanned::Spanned;
use super::tagged::tagged_enum;

/// A whole pipeline: where data comes from, the SQL stages, and where the result goes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(title = "Aqueducts pipeline", deny_unknown_fields)]
pub struct Pipeline {
    /// Editor hint: the URL or path of this JSON schema. Ignored by Aqueducts.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema_hint: Option<String>,
    /// Format version; only "v2" is accepted. Missing means "v2".
    #[schemars(default = "default_version")]
    pub version: Option<Spanned<String>>,
    /// The tables the stages read.
    pub sources: Vec<Source>,
    /// The SQL stages. A flat list, or the v2 nesting (a list of lists); the order in
    /// which they run is inferred from the tables each query reads.
    #[schemars(with = "Vec<StageEntry>")]
    pub stages: Vec<Stage>,
    /// Where the result of the final stage is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
}

fn default_version() -> &'static str {
    "v2"
}

/// A stage, or a v2 group of stages.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum StageEntry {
    Stage(Stage),
    Group(Vec<Stage>),
}

/// A source of data, registered as a table under its `name`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// A single file.
    File(FileSource),
    /// A directory of files, optionally with hive partitions.
    Directory(DirectorySource),
    /// The result of a query against a database reached through ODBC.
    Odbc(OdbcSource),
    /// A Delta Lake table.
    Delta(DeltaSource),
    /// A table provided by the program that embeds Aqueducts.
    InMemory(InMemorySource),
}

tagged_enum!(Source, "source:type", {
    "file" => File(FileSource),
    "directory" => Directory(DirectorySource),
    "odbc" => Odbc(OdbcSource),
    "delta" => Delta(DeltaSource),
    "in_memory" => InMemory(InMemorySource),
});

impl Source {
    pub fn name(&self) -> &Spanned<String> {
        match self {
            Source::File(s) => &s.name,
            Source::Directory(s) => &s.name,
            Source::Odbc(s) => &s.name,
            Source::Delta(s) => &s.name,
            Source::InMemory(s) => &s.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::File(_) => "file",
            Source::Directory(_) => "directory",
            Source::Odbc(_) => "odbc",
            Source::Delta(_) => "delta",
            Source::InMemory(_) => "in_memory",
        }
    }
}

/// Key-value settings for an object store (credentials, region, endpoint).
pub type StorageConfig = BTreeMap<String, Spanned<String>>;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// The table name the stages use.
    pub name: Spanned<String>,
    /// The file format and its options.
    #[serde(alias = "file_type")]
    pub format: SourceFileFormat,
    /// A path (relative paths resolve against the working directory) or a URL.
    pub location: Spanned<String>,
    /// Object store settings.
    #[serde(default, alias = "storage_options")]
    pub storage_config: StorageConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectorySource {
    pub name: Spanned<String>,
    #[serde(alias = "file_type")]
    pub format: SourceFileFormat,
    /// The directory: a path or a URL.
    pub location: Spanned<String>,
    /// Hive partition columns (`key=value` directories) with their types.
    #[serde(default, alias = "partition_cols")]
    pub partition_columns: Vec<PartitionColumn>,
    #[serde(default, alias = "storage_options")]
    pub storage_config: StorageConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OdbcSource {
    pub name: Spanned<String>,
    /// The query run against the database; its result is the table.
    #[serde(alias = "query")]
    pub load_query: Spanned<String>,
    /// An ODBC connection string (`DSN=...` or `Driver={...};Server=...`).
    pub connection_string: Spanned<String>,
    /// The columns of the query result, when they should not be asked of the database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<Field>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeltaSource {
    pub name: Spanned<String>,
    pub location: Spanned<String>,
    #[serde(default, alias = "storage_options")]
    pub storage_config: StorageConfig,
    /// Read this version of the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Spanned<i64>>,
    /// Read the table as of this RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InMemorySource {
    pub name: Spanned<String>,
}

/// A file format of a source: `{type: csv, options: {...}}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", content = "options", rename_all = "snake_case")]
pub enum SourceFileFormat {
    Csv(CsvSourceOptions),
    Parquet(SchemaOptions),
    Json(SchemaOptions),
}

tagged_enum!(SourceFileFormat, "file format:type:options", {
    "csv" => Csv(CsvSourceOptions),
    "parquet" => Parquet(SchemaOptions),
    "json" => Json(SchemaOptions),
});

impl SourceFileFormat {
    pub fn schema(&self) -> &[Field] {
        match self {
            SourceFileFormat::Csv(o) => &o.schema,
            SourceFileFormat::Parquet(o) | SourceFileFormat::Json(o) => &o.schema,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SourceFileFormat::Csv(_) => "csv",
            SourceFileFormat::Parquet(_) => "parquet",
            SourceFileFormat::Json(_) => "json",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvSourceOptions {
    /// Whether the first line holds the column names.
    #[serde(default = "yes")]
    pub has_header: bool,
    /// The column separator, one character.
    #[serde(default = "comma")]
    pub delimiter: Spanned<char>,
    /// The columns; inferred from the data when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<Field>,
}

impl Default for CsvSourceOptions {
    fn default() -> Self {
        CsvSourceOptions { has_header: true, delimiter: comma(), schema: Vec::new() }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaOptions {
    /// The columns; inferred from the data when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<Field>,
}

fn yes() -> bool {
    true
}

fn comma() -> Spanned<char> {
    Spanned::new(',', 0..0)
}

/// A column: its name and a data-type string such as `int64` or `decimal<10,2>`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: Spanned<String>,
    /// A data-type string: `string`, `int64`, `decimal<10,2>`, `timestamp<ms,UTC>`, `list<int32>`, ...
    #[serde(alias = "type")]
    pub data_type: Spanned<String>,
    #[serde(default = "yes")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Arrow field metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// A hive partition column: `[name, type]` or `{name, data_type}`.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionColumn {
    pub name: Spanned<String>,
    pub data_type: Spanned<String>,
}

impl JsonSchema for PartitionColumn {
    fn schema_name() -> Cow<'static, str> {
        "PartitionColumn".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A hive partition column: `[name, type]` or `{name, data_type}`.",
            "oneOf": [
                {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}], "minItems": 2, "maxItems": 2},
                {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "data_type": {"type": "string"}, "type": {"type": "string"}},
                    "required": ["name"],
                    "anyOf": [{"required": ["data_type"]}, {"required": ["type"]}],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for PartitionColumn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PartitionColumn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`[name, type]` or `{name: ..., data_type: ...}`")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<PartitionColumn, A::Error> {
                let name = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let data_type = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(PartitionColumn { name, data_type })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<PartitionColumn, A::Error> {
                const FIELDS: &[&str] = &["name", "data_type", "type"];
                let (mut name, mut data_type) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => name = Some(map.next_value()?),
                        "data_type" | "type" => data_type = Some(map.next_value()?),
                        other => return Err(A::Error::unknown_field(other, FIELDS)),
                    }
                }
                Ok(PartitionColumn {
                    name: name.ok_or_else(|| A::Error::missing_field("name"))?,
                    data_type: data_type.ok_or_else(|| A::Error::missing_field("data_type"))?,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A SQL stage: its result is registered as a table under `name`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub name: Spanned<String>,
    /// One SQL query. It may read sources and other stages by name.
    pub query: Spanned<String>,
    /// Print this many rows of the result (0 prints up to 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show: Option<usize>,
    /// Print the physical plan.
    #[serde(default, skip_serializing_if = "is_false")]
    pub explain: bool,
    /// Print the physical plan with the metrics of the run.
    #[serde(default, skip_serializing_if = "is_false")]
    pub explain_analyze: bool,
    /// Print the schema of the result.
    #[serde(default, skip_serializing_if = "is_false")]
    pub print_schema: bool,
}

impl Stage {
    /// Whether the stage prints anything of its own.
    pub fn prints(&self) -> bool {
        self.show.is_some() || self.explain || self.explain_analyze || self.print_schema
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where the result of the final stage goes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Destination {
    File(FileDestination),
    Odbc(OdbcDestination),
    Delta(DeltaDestination),
    InMemory(InMemoryDestination),
}

tagged_enum!(Destination, "destination:type", {
    "file" => File(FileDestination),
    "odbc" => Odbc(OdbcDestination),
    "delta" => Delta(DeltaDestination),
    "in_memory" => InMemory(InMemoryDestination),
});

impl Destination {
    pub fn name(&self) -> &Spanned<String> {
        match self {
            Destination::File(d) => &d.name,
            Destination::Odbc(d) => &d.name,
            Destination::Delta(d) => &d.name,
            Destination::InMemory(d) => &d.name,
        }
    }

    pub fn partition_columns(&self) -> &[Spanned<String>] {
        match self {
            Destination::File(d) => &d.partition_columns,
            Destination::Delta(d) => &d.partition_columns,
            Destination::Odbc(_) | Destination::InMemory(_) => &[],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDestination {
    pub name: Spanned<String>,
    /// A file (or, with `single_file: false` or partitions, a directory): a path or a URL.
    pub location: Spanned<String>,
    #[serde(alias = "file_type")]
    pub format: DestinationFileFormat,
    /// Write one file rather than a directory of parts.
    #[serde(default = "yes")]
    pub single_file: bool,
    /// Write a hive layout (`col=value/`) partitioned by these columns.
    #[serde(default, alias = "partition_cols")]
    pub partition_columns: Vec<Spanned<String>>,
    #[serde(default, alias = "storage_options")]
    pub storage_config: StorageConfig,
}

/// The file format of a destination: `{type: parquet, options: {...}}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", content = "options", rename_all = "snake_case")]
pub enum DestinationFileFormat {
    Csv(CsvDestinationOptions),
    /// DataFusion Parquet writer options (`compression: zstd(3)`, ...).
    Parquet(BTreeMap<String, Spanned<String>>),
    Json(JsonDestinationOptions),
}

tagged_enum!(DestinationFileFormat, "file format:type:options", {
    "csv" => Csv(CsvDestinationOptions),
    "parquet" => Parquet(BTreeMap<String, Spanned<String>>),
    "json" => Json(JsonDestinationOptions),
});

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvDestinationOptions {
    #[serde(default = "yes")]
    pub has_header: bool,
    #[serde(default = "comma")]
    pub delimiter: Spanned<char>,
    /// gzip, bzip2, xz, zstd or uncompressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonDestinationOptions {}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OdbcDestination {
    /// The target table.
    pub name: Spanned<String>,
    pub connection_string: Spanned<String>,
    #[serde(alias = "mode")]
    pub write_mode: OdbcWriteMode,
    /// Rows per insert batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

fn default_batch_size() -> usize {
    1000
}

/// How rows reach an ODBC table: `{operation: append}` or
/// `{operation: custom, transaction: {pre_insert, insert}}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "operation", content = "transaction", rename_all = "snake_case")]
pub enum OdbcWriteMode {
    Append,
    Custom(CustomTransaction),
}

tagged_enum!(OdbcWriteMode, "write mode:operation:transaction", {
    "append" => Append,
    "custom" => Custom(CustomTransaction),
});

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomTransaction {
    /// A statement run once before the inserts (in the same transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_insert: Option<Spanned<String>>,
    /// A parameterised insert (`?` per column) run for every row.
    pub insert: Spanned<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeltaDestination {
    pub name: Spanned<String>,
    pub location: Spanned<String>,
    #[serde(alias = "mode")]
    pub write_mode: DeltaWriteMode,
    #[serde(default, alias = "storage_options")]
    pub storage_config: StorageConfig,
    #[serde(default, alias = "partition_cols")]
    pub partition_columns: Vec<Spanned<String>>,
    #[serde(default)]
    pub table_properties: BTreeMap<String, Option<String>>,
    /// Commit metadata.
    #[serde(default, alias = "custom_metadata", skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The table schema, used when the table is created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<Field>,
    /// Rows whose columns differ from the table's: `strict` refuses them, `merge` adds
    /// their new columns to the table (and writes null for columns they lack).
    #[serde(default)]
    pub schema_mode: DeltaSchemaMode,
}

/// How rows reach a Delta table: `{operation: append}`, `{operation: overwrite}`,
/// `{operation: upsert, params: [key columns]}` or `{operation: replace, params: [{column, value}]}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "operation", content = "params", rename_all = "snake_case")]
pub enum DeltaWriteMode {
    /// The rows are added to the table.
    Append,
    /// The rows replace every row of the table.
    Overwrite,
    /// Rows whose key columns match a row of the table update it; the others are added.
    Upsert(Vec<Spanned<String>>),
    /// The rows matching every condition are replaced by the rows written (which must
    /// match the conditions too).
    Replace(Vec<ReplaceCondition>),
}

tagged_enum!(DeltaWriteMode, "write mode:operation:params", {
    "append" => Append,
    "overwrite" => Overwrite,
    "upsert" => Upsert(Vec<Spanned<String>>),
    "replace" => Replace(Vec<ReplaceCondition>),
});

/// What a Delta destination does with rows whose columns differ from the table's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeltaSchemaMode {
    /// A difference is an error.
    #[default]
    Strict,
    /// New columns are added to the table; columns the rows lack are written as null.
    Merge,
}

tagged_enum!(DeltaSchemaMode, "schema mode:mode", {
    "strict" => Strict,
    "merge" => Merge,
});

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCondition {
    pub column: Spanned<String>,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InMemoryDestination {
    pub name: Spanned<String>,
}
