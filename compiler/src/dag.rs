//! The stage graph: which stage reads which source or stage, inferred from the SQL.

use std::collections::{BTreeSet, HashMap};

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// A vertex of the graph: a source or a stage, by index in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vertex {
    Source(usize),
    Stage(usize),
}

/// Edges point from an input to the stage that reads it.
#[derive(Debug, Clone, Default)]
pub struct StageDag {
    graph: DiGraph<Vertex, ()>,
    by_name: HashMap<String, NodeIndex>,
    stages: Vec<NodeIndex>,
}

impl StageDag {
    /// A graph with a vertex per source and stage; names are normalised names. When a
    /// name is taken twice, the first keeps it (the duplicate is reported elsewhere).
    pub fn new<'a>(sources: impl IntoIterator<Item = &'a str>, stages: impl IntoIterator<Item = &'a str>) -> Self {
        let mut dag = StageDag::default();
        for (i, name) in sources.into_iter().enumerate() {
            let v = dag.graph.add_node(Vertex::Source(i));
            dag.by_name.entry(name.to_string()).or_insert(v);
        }
        for (i, name) in stages.into_iter().enumerate() {
            let v = dag.graph.add_node(Vertex::Stage(i));
            dag.by_name.entry(name.to_string()).or_insert(v);
            dag.stages.push(v);
        }
        dag
    }

    pub fn lookup(&self, name: &str) -> Option<Vertex> {
        self.by_name.get(name).map(|&v| self.graph[v])
    }

    fn index(&self, v: Vertex) -> Option<NodeIndex> {
        match v {
            Vertex::Stage(i) => self.stages.get(i).copied(),
            Vertex::Source(_) => self.graph.node_indices().find(|&n| self.graph[n] == v),
        }
    }

    /// Records that `stage` reads `input` (once per pair).
    pub fn add_read(&mut self, stage: usize, input: Vertex) {
        if let (Some(to), Some(from)) = (self.index(Vertex::Stage(stage)), self.index(input)) {
            self.graph.update_edge(from, to, ());
        }
    }

    /// The direct inputs of a stage, in index order.
    pub fn inputs(&self, stage: usize) -> Vec<Vertex> {
        let Some(&v) = self.stages.get(stage) else { return Vec::new() };
        let mut inputs: Vec<_> =
            self.graph.edges_directed(v, Direction::Incoming).map(|e| self.graph[e.source()]).collect();
        inputs.sort();
        inputs
    }

    /// The stages that read `v`, in index order.
    pub fn readers(&self, v: Vertex) -> Vec<usize> {
        let Some(n) = self.index(v) else { return Vec::new() };
        let mut readers: Vec<_> = self
            .graph
            .edges_directed(n, Direction::Outgoing)
            .filter_map(|e| match self.graph[e.target()] {
                Vertex::Stage(i) => Some(i),
                Vertex::Source(_) => None,
            })
            .collect();
        readers.sort();
        readers
    }

    /// Every cycle, as stage indices in reading order (each stage reads the one before
    /// it, the first reads the last); the smallest index comes first.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut cycles = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let self_loop = scc.len() == 1 && self.graph.find_edge(scc[0], scc[0]).is_some();
            if scc.len() < 2 && !self_loop {
                continue;
            }
            // The shortest real cycle through the component's first stage: a breadth-
            // first search inside the component from the stage back to itself.
            let Some(&start) = members.iter().min_by_key(|&&n| self.graph[n]) else { continue };
            let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut closed = self_loop;
            while let Some(node) = queue.pop_front() {
                let mut next: Vec<NodeIndex> = self
                    .graph
                    .edges_directed(node, Direction::Outgoing)
                    .map(|e| e.target())
                    .filter(|t| members.contains(t))
                    .collect();
                next.sort_by_key(|&t| self.graph[t]);
                for target in next {
                    if target == start {
                        previous.entry(start).or_insert(node);
                        closed = true;
                    } else if let std::collections::hash_map::Entry::Vacant(slot) = previous.entry(target) {
                        slot.insert(node);
                        queue.push_back(target);
                    }
                }
                if closed {
                    break;
                }
            }
            let mut order = vec![start];
            if !self_loop {
                let mut node = previous.get(&start).copied().unwrap_or(start);
                while node != start && order.len() <= members.len() {
                    order.push(node);
                    node = previous.get(&node).copied().unwrap_or(start);
                }
                order[1..].reverse();
            }
            cycles.push(
                order
                    .into_iter()
                    .filter_map(|n| match self.graph[n] {
                        Vertex::Stage(i) => Some(i),
                        Vertex::Source(_) => None,
                    })
                    .collect(),
            );
        }
        cycles.sort();
        cycles
    }

    /// Stages in an order where every stage comes after its inputs, leaving out the
    /// stages in or after a cycle.
    pub fn topological_stages(&self) -> Vec<usize> {
        let in_cycle: BTreeSet<usize> = self.cycles().into_iter().flatten().collect();
        let mut done: BTreeSet<usize> = BTreeSet::new();
        let mut order = Vec::new();
        // Kahn's algorithm, picking the lowest ready index first for a stable order.
        loop {
            let ready = (0..self.stages.len()).find(|i| {
                !done.contains(i)
                    && !in_cycle.contains(i)
                    && self.inputs(*i).iter().all(|v| match v {
                        Vertex::Stage(j) => done.contains(j),
                        Vertex::Source(_) => true,
                    })
            });
            match ready {
                Some(i) => {
                    done.insert(i);
                    order.push(i);
                }
                None => break,
            }
        }
        order
    }

    /// The stage the destination receives: the one no other stage reads; of several,
    /// the one written last in the file.
    pub fn final_stage(&self) -> Option<usize> {
        (0..self.stages.len()).rev().find(|&i| self.readers(Vertex::Stage(i)).iter().all(|&r| r == i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cycles_order_and_final_stage() {
        let mut dag = StageDag::new(["src"], ["a", "b", "c", "d"]);
        dag.add_read(0, Vertex::Source(0));
        dag.add_read(1, Vertex::Stage(0));
        dag.add_read(0, Vertex::Stage(2));
        dag.add_read(2, Vertex::Stage(1));
        assert_eq!(dag.cycles(), vec![vec![0, 1, 2]]);
        assert_eq!(dag.topological_stages(), vec![3]);

        // A component with a dead end: 0→1, 1→2, 2→1, 1→3, 3→0 holds the cycle 0→1→3→0.
        let mut dag = StageDag::new(Vec::<&str>::new(), ["s0", "s1", "s2", "s3"]);
        dag.add_read(1, Vertex::Stage(0));
        dag.add_read(2, Vertex::Stage(1));
        dag.add_read(1, Vertex::Stage(2));
        dag.add_read(3, Vertex::Stage(1));
        dag.add_read(0, Vertex::Stage(3));
        assert_eq!(dag.cycles(), vec![vec![0, 1, 3]]);

        let mut dag = StageDag::new(["src"], ["late", "early"]);
        dag.add_read(0, Vertex::Stage(1));
        dag.add_read(1, Vertex::Source(0));
        assert_eq!(dag.topological_stages(), vec![1, 0]);
        assert_eq!(dag.final_stage(), Some(0));
    }
}
