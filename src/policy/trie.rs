//! The compiled whitelist of one HTTP system: a trie over decoded path segments.
//!
//! A lookup walks the request's segments once and stops at the first segment with no child:
//! its cost depends on the depth of the request path, not on how many resources are
//! configured. A node with few children keeps them in a short list (compared by length first,
//! then bytes: cheaper than hashing the segment); one with more uses a hash map. Either way a
//! step costs at most [`SMALL`] comparisons or one hash probe.
//!
//! Each node can carry three marks, each naming the resource that set it:
//!
//! * `exact`   — exact resource: admits a request whose segments end at this node;
//! * `subtree` — prefix resource without trailing `/`: admits a request ending here or
//!   continuing below (`/a/b` admits `/a/b`, `/a/b/`, `/a/b/c`, never `/a/bc`, which is a
//!   different segment);
//! * `below`   — prefix resource with a trailing `/`: admits only requests continuing below
//!   (`/a/b/` admits `/a/b/` and `/a/b/c`, not `/a/b`).
//!
//! When several resources admit a request, the most specific one decides (the deepest node;
//! at equal depth `exact`, then `below`, then `subtree`): it is the one reported in the audit
//! record and whose WebSocket flag counts.

use std::collections::HashMap;

/// Child maps are keyed by segment text from the configuration only (never by request
/// data), so a fast non-keyed-against-attackers hash is fine: there is no HashDoS concern.
type Map = HashMap<Box<str>, u32, foldhash::fast::RandomState>;

/// Up to this many children are kept in a list.
const SMALL: usize = 8;

/// The children of a node.
#[derive(Debug)]
enum Children {
    Few(Vec<(Box<str>, u32)>),
    Many(Map),
}

impl Default for Children {
    fn default() -> Self {
        Children::Few(Vec::new())
    }
}

impl Children {
    fn get(&self, seg: &str) -> Option<u32> {
        match self {
            Children::Few(list) => list
                .iter()
                .find(|(k, _)| k.len() == seg.len() && **k == *seg)
                .map(|&(_, v)| v),
            Children::Many(map) => map.get(seg).copied(),
        }
    }

    /// The child for `seg`, inserting `next` if there is none.
    fn get_or_insert(&mut self, seg: &str, next: u32) -> u32 {
        if let Some(v) = self.get(seg) {
            return v;
        }
        match self {
            Children::Few(list) if list.len() < SMALL => list.push((seg.into(), next)),
            Children::Few(list) => {
                let mut map: Map = std::mem::take(list).into_iter().collect();
                map.insert(seg.into(), next);
                *self = Children::Many(map);
            }
            Children::Many(map) => {
                map.insert(seg.into(), next);
            }
        }
        next
    }
}

#[derive(Debug, Default)]
struct Node {
    children: Children,
    exact: Option<u32>,
    subtree: Option<u32>,
    below: Option<u32>,
}

/// How a resource admits paths, as stored in the trie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Exactly this path.
    Exact,
    /// This path and everything below it.
    Subtree,
    /// Everything strictly below this path (a prefix written with a trailing `/`).
    Below,
}

/// A segment trie; the root is the path `/`.
#[derive(Debug)]
pub(crate) struct PathTrie {
    nodes: Vec<Node>,
}

impl Default for PathTrie {
    fn default() -> Self {
        PathTrie {
            nodes: vec![Node::default()],
        }
    }
}

impl PathTrie {
    /// Marks the node at `segments` with `mark` for resource `rule`. Returns the resource
    /// already holding that mark there, if any (a duplicate), leaving it in place.
    pub(crate) fn insert<'s>(
        &mut self,
        segments: impl IntoIterator<Item = &'s str>,
        mark: Mark,
        rule: u32,
    ) -> Result<(), u32> {
        let mut at = 0usize;
        for seg in segments {
            let next = self.nodes.len() as u32;
            let Some(node) = self.nodes.get_mut(at) else {
                return Ok(());
            };
            let child = node.children.get_or_insert(seg, next);
            if child == next {
                self.nodes.push(Node::default());
            }
            at = child as usize;
        }
        let Some(node) = self.nodes.get_mut(at) else {
            return Ok(());
        };
        let slot = match mark {
            Mark::Exact => &mut node.exact,
            Mark::Subtree => &mut node.subtree,
            Mark::Below => &mut node.below,
        };
        match *slot {
            Some(existing) => Err(existing),
            None => {
                *slot = Some(rule);
                Ok(())
            }
        }
    }

    /// The most specific resource admitting a request with these decoded segments.
    pub(crate) fn lookup<'s>(&self, segments: impl IntoIterator<Item = &'s str>) -> Option<u32> {
        let mut node = self.nodes.first()?;
        let mut best = None;
        for seg in segments {
            // The request continues below this node.
            if let Some(r) = node.below.or(node.subtree) {
                best = Some(r);
            }
            match node
                .children
                .get(seg)
                .and_then(|c| self.nodes.get(c as usize))
            {
                Some(child) => node = child,
                None => return best,
            }
        }
        // The request ends at this node.
        node.exact.or(node.subtree).or(best)
    }

    /// Number of nodes (the root included).
    #[cfg(test)]
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<&str> {
        let rest = p.strip_prefix('/').unwrap();
        if rest.is_empty() {
            vec![]
        } else {
            rest.split('/').collect()
        }
    }

    #[test]
    fn a_node_with_many_children_switches_to_a_map_and_still_finds_each() {
        let mut t = PathTrie::default();
        let names: Vec<String> = (0..3 * SMALL).map(|i| format!("c{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            t.insert(["a", n.as_str()], Mark::Exact, i as u32).unwrap();
        }
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.lookup(["a", n.as_str()]), Some(i as u32), "{n}");
        }
        assert_eq!(t.lookup(["a", "c"]), None);
        assert_eq!(t.lookup(["a", "c0x"]), None);
        // Inserting an existing path again reports the rule that holds it.
        assert_eq!(t.insert(["a", "c3"], Mark::Exact, 99), Err(3));
    }

    #[test]
    fn marks_admit_what_they_say() {
        let mut t = PathTrie::default();
        t.insert(segs("/a/b"), Mark::Subtree, 0).unwrap();
        t.insert(segs("/x"), Mark::Exact, 1).unwrap();
        // Compiled from the prefix `/d/`: the trailing empty segment is dropped.
        t.insert(segs("/d"), Mark::Below, 2).unwrap();
        t.insert(segs("/a/b/c"), Mark::Exact, 3).unwrap();
        let l = |p| t.lookup(segs(p));
        assert_eq!(l("/a/b"), Some(0));
        assert_eq!(l("/a/b/"), Some(0));
        assert_eq!(l("/a/b/z/y"), Some(0));
        assert_eq!(
            l("/a/b/c"),
            Some(3),
            "the more specific exact resource decides"
        );
        assert_eq!(l("/a/b/c/d"), Some(0));
        assert_eq!(l("/a/bc"), None);
        assert_eq!(l("/a"), None);
        assert_eq!(l("/"), None);
        assert_eq!(l("/x"), Some(1));
        assert_eq!(l("/x/"), None);
        assert_eq!(l("/x/y"), None);
        assert_eq!(l("/X"), None, "case-sensitive");
        assert_eq!(l("/d"), None);
        assert_eq!(l("/d/"), Some(2));
        assert_eq!(l("/d/e"), Some(2));
    }

    #[test]
    fn root_prefix_admits_everything_and_duplicates_are_reported() {
        let mut t = PathTrie::default();
        t.insert(segs("/"), Mark::Subtree, 7).unwrap();
        assert_eq!(t.lookup(segs("/")), Some(7));
        assert_eq!(t.lookup(segs("/q/r/s")), Some(7));
        assert_eq!(t.insert(segs("/"), Mark::Subtree, 8), Err(7));
        assert_eq!(t.insert(segs("/"), Mark::Exact, 9), Ok(()));
        assert_eq!(t.lookup(segs("/")), Some(9));
        assert_eq!(t.node_count(), 1);
    }
}
