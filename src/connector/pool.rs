//! Idle HTTP/1.1 backend connections, per thread.
//!
//! Bounded: at most [`MAX_IDLE_PER_BACKEND`] idle connections per backend address; beyond
//! that a finished connection is closed. The number of connections *in use* is bounded by
//! the tunnel's MAX_CONCURRENT_STREAMS, since each serves one stream.

use super::forward::BackendConn;
use std::cell::RefCell;
use std::collections::HashMap;

/// Idle connections kept per backend.
pub const MAX_IDLE_PER_BACKEND: usize = 32;

/// A per-thread pool of idle backend connections.
#[derive(Default)]
pub struct Pool {
    idle: RefCell<HashMap<String, Vec<BackendConn>>>,
}

impl Pool {
    /// An idle connection to `addr`, most recently used first.
    pub fn take(&self, addr: &str) -> Option<BackendConn> {
        self.idle.borrow_mut().get_mut(addr)?.pop()
    }

    /// Returns a connection that finished a response cleanly and may be reused.
    pub fn put(&self, addr: &str, conn: BackendConn) {
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(addr.to_string()).or_default();
        if list.len() < MAX_IDLE_PER_BACKEND {
            list.push(conn);
        }
    }
}
