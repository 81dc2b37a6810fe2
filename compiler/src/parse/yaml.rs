//! YAML through `saphyr-parser`'s event stream, which reports a span for every event.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::common::{MAX_DEPTH, syntax_error, too_deep};
use crate::diagnostic::Diagnostic;
use crate::node::{Entry, Node, Text, Value};
use crate::source::align;

/// Aliases may expand to at most this many nodes in total (a "billion laughs" guard).
const MAX_ALIAS_NODES: usize = 100_000;

enum Frame {
    Seq { items: Vec<Node>, start: usize, anchor: usize },
    Map { entries: Vec<Entry>, key: Option<(String, Range<usize>)>, start: usize, anchor: usize },
}

struct CharOffsets(Vec<usize>);

impl CharOffsets {
    fn new(text: &str) -> Self {
        let mut offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        offsets.push(text.len());
        CharOffsets(offsets)
    }

    fn byte(&self, char_index: usize) -> usize {
        self.0.get(char_index).copied().unwrap_or_else(|| *self.0.last().unwrap_or(&0))
    }
}

pub fn parse(text: &str) -> Result<Node, Vec<Diagnostic>> {
    let offsets = CharOffsets::new(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut alias_budget = MAX_ALIAS_NODES;
    let mut root: Option<Node> = None;
    let mut documents = 0;

    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(ok) => ok,
            Err(e) => {
                let at = offsets.byte(e.marker().index());
                let end = offsets.byte(e.marker().index() + 1);
                return Err(vec![syntax_error("YAML", e.info(), at..end, "here")]);
            }
        };
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index());
        let completed = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(vec![
                        syntax_error(
                            "YAML",
                            "more than one document",
                            start..end.max(start + 3),
                            "a second document starts here",
                        )
                        .help("a spec file holds one pipeline; remove the `---` and what follows, or split the file"),
                    ]);
                }
                None
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) if stack.len() >= MAX_DEPTH => {
                let _ = anchor;
                return Err(vec![too_deep("YAML", start..end.max(start + 1))]);
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq { items: Vec::new(), start, anchor });
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map { entries: Vec::new(), key: None, start, anchor });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, start, anchor }) => {
                    Some((Node::new(Value::Seq(items), start..end.max(start)), anchor))
                }
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { entries, start, anchor, .. }) => {
                    Some((Node::new(Value::Map(entries), start..end.max(start)), anchor))
                }
                _ => None,
            },
            Event::Scalar(value, style, anchor, tag) => {
                let raw = text.get(start..end).unwrap_or("");
                let map = align(&value, raw, start, style == ScalarStyle::DoubleQuoted);
                let untyped = style == ScalarStyle::Plain && tag.is_none();
                let text = Text { value: value.into_owned(), map, untyped, poisoned: false };
                Some((Node::new(Value::Str(text), start..end), anchor))
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(vec![syntax_error(
                        "YAML",
                        "unknown alias",
                        start..end.max(start + 1),
                        "no anchor with this name",
                    )]);
                };
                let size = count_nodes(target);
                if size > alias_budget {
                    return Err(vec![
                        syntax_error(
                            "YAML",
                            "aliases expand to too many values",
                            start..end.max(start + 1),
                            "expands too far",
                        )
                        .help("aliases that expand to more than 100000 values are refused"),
                    ]);
                }
                alias_budget -= size;
                let mut node = target.clone();
                node.span = start..end;
                Some((node, 0))
            }
        };
        let Some((node, anchor)) = completed else { continue };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => match node.value {
                    Value::Str(t) => *key = Some((t.value, node.span)),
                    _ => {
                        return Err(vec![
                            syntax_error("YAML", "a key must be a plain string", node.span.clone(), "not a string key")
                                .help("write keys as simple names, for example `name:`"),
                        ]);
                    }
                },
                Some((key, key_span)) => entries.push(Entry { key, key_span, value: node }),
            },
        }
    }
    Ok(root.unwrap_or_else(|| Node::new(Value::Null, 0..0)))
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries.iter().map(|e| 1 + count_nodes(&e.value)).sum(),
        _ => 0,
    }
}
