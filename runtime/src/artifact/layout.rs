//! Byte layouts shared by our plan nodes in artifacts ([`super::AqueductsCodec`]): a
//! 4-byte tag, length-prefixed texts, an optional projection, and a schema as an Arrow
//! IPC stream at the end. Little-endian throughout; decoding checks every length.

use std::io::Cursor;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{DataFusionError, Result};

pub(crate) fn put_u32(buf: &mut Vec<u8>, n: u32) {
    buf.extend_from_slice(&n.to_le_bytes());
}

pub(crate) fn put_u64(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(&n.to_le_bytes());
}

pub(crate) fn put_text(buf: &mut Vec<u8>, text: &str) {
    put_bytes(buf, text.as_bytes());
}

pub(crate) fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(buf, bytes.len() as u32);
    buf.extend_from_slice(bytes);
}

/// `u32::MAX` for "all columns", else the count and the column indices.
pub(crate) fn put_projection(buf: &mut Vec<u8>, projection: Option<&Vec<usize>>) {
    match projection {
        None => put_u32(buf, u32::MAX),
        Some(columns) => {
            put_u32(buf, columns.len() as u32);
            for c in columns {
                put_u32(buf, *c as u32);
            }
        }
    }
}

/// Ends the node: nothing may follow the schema.
pub(crate) fn put_schema(buf: &mut Vec<u8>, schema: &SchemaRef) -> Result<()> {
    let mut writer = StreamWriter::try_new(&mut *buf, schema)?;
    writer.finish()?;
    Ok(())
}

/// Reads what the `put_*` functions wrote, in the same order.
pub(crate) struct NodeReader<'a> {
    buf: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> NodeReader<'a> {
    /// Starts after `tag`, or fails if the bytes do not start with it.
    pub(crate) fn new(buf: &'a [u8], tag: &[u8; 4], what: &'static str) -> Result<Self> {
        let mut reader = NodeReader { buf, at: 0, what };
        if reader.take(4)? != tag {
            return Err(reader.bad());
        }
        Ok(reader)
    }

    fn bad(&self) -> DataFusionError {
        DataFusionError::Internal(format!("malformed {} node", self.what))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| self.bad())?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes(bytes.try_into().map_err(|_| self.bad())?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| self.bad())?))
    }

    pub(crate) fn text(&mut self) -> Result<String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.bad())
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    pub(crate) fn projection(&mut self) -> Result<Option<Vec<usize>>> {
        let count = self.u32()?;
        if count == u32::MAX {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(count.min(4096) as usize);
        for _ in 0..count {
            columns.push(self.u32()? as usize);
        }
        Ok(Some(columns))
    }

    pub(crate) fn schema(self) -> Result<SchemaRef> {
        Ok(StreamReader::try_new(Cursor::new(&self.buf[self.at..]), None)?.schema())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn layouts_round_trip_and_truncation_is_an_error() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let mut buf = b"TEST".to_vec();
        put_text(&mut buf, "héllo");
        put_projection(&mut buf, Some(&vec![0]));
        put_u64(&mut buf, u64::MAX - 1);
        put_bytes(&mut buf, &[1, 2]);
        put_schema(&mut buf, &schema).unwrap();
        let mut reader = NodeReader::new(&buf, b"TEST", "test").unwrap();
        assert_eq!(reader.text().unwrap(), "héllo");
        assert_eq!(reader.projection().unwrap(), Some(vec![0]));
        assert_eq!(reader.u64().unwrap(), u64::MAX - 1);
        assert_eq!(reader.bytes().unwrap(), &[1, 2]);
        assert_eq!(reader.schema().unwrap(), schema);
        let mut short = NodeReader::new(&buf[..10], b"TEST", "test").unwrap();
        assert!(short.text().is_err());
        assert!(NodeReader::new(b"NOPE", b"TEST", "test").is_err());
    }
}
