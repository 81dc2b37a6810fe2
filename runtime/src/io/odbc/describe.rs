//! Asking a database for the columns of a query's result without running it, here
//! ([`LocalDescriber`]) or on the executor that will run the plan.

use std::fmt;
use std::sync::Arc;

use aqueducts_protocol::DescribedColumn;
use arrow_odbc::arrow_schema_from;
use arrow_odbc::odbc_api::{DataType as OdbcDataType, ResultSetMetadata};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::connection::{OdbcError, connect_for_reading, driver_message, readable};

/// The Arrow schema of a query's result, asked of the database (prepared and described,
/// not run). Blocking.
pub fn describe(connection_string: &str, query: &str) -> Result<SchemaRef, OdbcError> {
    let connection = connect_for_reading(connection_string)?;
    let mut prepared = connection.prepare(query).map_err(|e| OdbcError::Query(driver_message(e)))?;
    let schema = arrow_schema_from(&mut prepared, None, false).map_err(|e| OdbcError::Query(driver_message(e)))?;
    // ODBC's FLOAT is double precision unless it says otherwise, but drivers report its
    // precision in decimal digits (PostgreSQL's float8 as 17), which reads as 32 bits.
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (index, field) in fields.iter_mut().enumerate() {
        let described = prepared.col_data_type(index as u16 + 1).map_err(|e| OdbcError::Query(driver_message(e)))?;
        if matches!(described, OdbcDataType::Float { .. }) {
            *field = field.clone().with_data_type(DataType::Float64);
        }
        // Timestamps without fractional seconds (MariaDB's DATETIME) are read with
        // millisecond precision: Parquet has no second unit, and other readers would see
        // the seconds written for them as plain integers.
        if let DataType::Timestamp(TimeUnit::Second, zone) = field.data_type() {
            *field = field.clone().with_data_type(DataType::Timestamp(TimeUnit::Millisecond, zone.clone()));
        }
    }
    Ok(Arc::new(readable(&Schema::new(fields))))
}

/// Describes ODBC queries for a compiler: on this machine ([`LocalDescriber`]) or on
/// the executor that will run the plan (the CLI's remote describer).
pub trait Describer: fmt::Debug + Send + Sync {
    fn describe(
        &self,
        connection_string: String,
        query: String,
    ) -> futures::future::BoxFuture<'static, Result<SchemaRef, OdbcError>>;
}

/// Describes queries from this process, on a blocking thread.
#[derive(Debug, Default)]
pub struct LocalDescriber;

impl Describer for LocalDescriber {
    fn describe(
        &self,
        connection_string: String,
        query: String,
    ) -> futures::future::BoxFuture<'static, Result<SchemaRef, OdbcError>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || describe(&connection_string, &query))
                .await
                .unwrap_or_else(|e| Err(OdbcError::Read(format!("describing the query failed: {e}"))))
        })
    }
}

/// A described schema as protocol columns, and back.
pub fn schema_to_columns(schema: &Schema) -> Vec<DescribedColumn> {
    schema
        .fields()
        .iter()
        .map(|f| DescribedColumn {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect()
}

pub fn columns_to_schema(columns: &[DescribedColumn]) -> Result<SchemaRef, OdbcError> {
    let mut fields = Vec::with_capacity(columns.len());
    for column in columns {
        let data_type: DataType = column.data_type.parse().map_err(|e| {
            OdbcError::Read(format!("the executor described column `{}` with an unknown type: {e}", column.name))
        })?;
        fields.push(Field::new(column.name.clone(), data_type, column.nullable));
    }
    Ok(Arc::new(Schema::new(fields)))
}
