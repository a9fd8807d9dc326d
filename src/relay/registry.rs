//! Which tunnels serve which tenant and location, across the relay's threads.
//!
//! A tunnel lives on the thread that runs it; a front-door connection lives on the thread
//! that accepted *it*. When the caller's thread has a usable tunnel for the tenant and
//! location, the stream is opened on it directly ([`TunnelStream`] local: no channel, no
//! cross-thread wake-up). Otherwise the door connection moves to a tunnel's thread
//! ([`Registry::locate`], [`Registry::move_door`]) and opens it there; what cannot move sends an
//! [`OpenJob`] to the tunnel's thread, which opens the stream and bridges it to the door (two
//! bounded channels carrying `Bytes`, never copies of them). The tenant and location of a tunnel
//! come from its verified client certificate only.

pub use super::stream::{Outbound, StreamEvents, StreamGone, StreamSender, TunnelStream};

use crate::proto::h2::RequestHead;
use crate::proto::Reason;
use crate::tls::Identity;
use crate::tunnel::{OpenError, StreamEvent, StreamHandle, Tunnel};
use futures_channel::{mpsc, oneshot};
use futures_util::{SinkExt, StreamExt};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

/// Chunks in flight per direction between a front-door connection and its stream.
const BRIDGE_DEPTH: usize = 16;

/// Tunnel ids, unique in the process (the thread-local table below is shared by every
/// registry a thread serves).
static NEXT_TUNNEL_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The tunnels running on this thread, by id: what [`Registry::open`] uses for the local
    /// path. Entries are added and removed by [`Registry::serve_tunnel`] on this thread.
    static LOCAL_TUNNELS: RefCell<HashMap<u64, Tunnel>> = RefCell::new(HashMap::new());
}

/// A request to open a stream, executed on the tunnel's thread.
pub struct OpenJob {
    head: RequestHead,
    end_stream: bool,
    reply: oneshot::Sender<Result<Bridged, OpenError>>,
}

/// A front-door connection on its way to another relay thread: called there, it rebuilds the
/// connection from the `Send` parts it captured and returns the task that serves it.
pub type MovedDoor =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + Send>;

/// Where a stream for a tenant and location would be opened from the calling thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A usable tunnel runs on this thread.
    Here,
    /// The next tunnel in turn runs on that thread (none here).
    Thread(ThreadId),
    /// No tunnel at all.
    Nowhere,
}

/// What a tunnel's thread is asked to do.
enum Job {
    /// Open a stream and bridge it to a door on another thread.
    Open(OpenJob),
    /// The tunnel is no longer admitted (a reload removed its tenant or location): send
    /// GOAWAY, let the running streams finish (within the drain timeout), then close.
    Close,
}

/// The door's ends of a bridged stream (sent across threads, so no `Rc` inside).
type Bridged = (mpsc::Sender<Outbound>, mpsc::Receiver<StreamEvent>);

/// Why a request could not be routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No live tunnel for this tenant and location.
    NoConnector {
        /// Tenant asked for.
        tenant: String,
        /// Location asked for.
        location: String,
    },
    /// A tunnel took the request but the stream could not be opened.
    Refused(String),
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::NoConnector { tenant, location } => write!(
                f,
                "no connector is connected for tenant '{tenant}' and location '{location}'"
            ),
            RouteError::Refused(why) => write!(f, "the connector refused the stream: {why}"),
        }
    }
}

impl std::error::Error for RouteError {}

#[derive(Clone)]
struct Entry {
    id: u64,
    /// The thread the tunnel runs on.
    thread: ThreadId,
    jobs: mpsc::UnboundedSender<Job>,
}

/// All live tunnels, by (tenant, location).
#[derive(Default)]
pub struct Registry {
    tunnels: Mutex<HashMap<(String, String), Vec<Entry>>>,
    round_robin: AtomicUsize,
    opened_local: AtomicU64,
    opened_remote: AtomicU64,
    moved_doors: AtomicU64,
    /// Each relay thread's inbox for door connections moved to it.
    doors: Mutex<HashMap<ThreadId, mpsc::UnboundedSender<MovedDoor>>>,
}

/// Streams opened so far, by path (for status pages and the latency breakdown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenCounts {
    /// On a tunnel of the door connection's own thread.
    pub local: u64,
    /// Bridged to a tunnel on another thread.
    pub remote: u64,
    /// Door connections moved to their tunnel's thread before opening (then counted local).
    pub moved: u64,
}

impl Registry {
    /// Number of live tunnels for `identity`.
    pub fn count(&self, tenant: &str, location: &str) -> usize {
        let map = self.tunnels.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(tenant.to_string(), location.to_string()))
            .map_or(0, Vec::len)
    }

    /// Streams opened so far, local and bridged.
    pub fn open_counts(&self) -> OpenCounts {
        OpenCounts {
            local: self.opened_local.load(Ordering::Relaxed),
            remote: self.opened_remote.load(Ordering::Relaxed),
            moved: self.moved_doors.load(Ordering::Relaxed),
        }
    }

    /// Where a stream for (`tenant`, `location`) would be opened from the calling thread: on a
    /// usable tunnel here, else on the next tunnel in turn elsewhere.
    pub fn locate(&self, tenant: &str, location: &str) -> Route {
        let here = std::thread::current().id();
        let map = self.lock();
        let Some(entries) = map.get(&(tenant.to_string(), location.to_string())) else {
            return Route::Nowhere;
        };
        let usable_here = entries
            .iter()
            .filter(|e| e.thread == here)
            .any(|e| LOCAL_TUNNELS.with(|t| t.borrow().get(&e.id).is_some_and(Tunnel::is_usable)));
        if usable_here {
            return Route::Here;
        }
        let others: Vec<&Entry> = entries.iter().filter(|e| e.thread != here).collect();
        if others.is_empty() {
            // Only tunnels of this thread, none usable: let `open` say why.
            return Route::Here;
        }
        let turn = self.round_robin.fetch_add(1, Ordering::Relaxed);
        Route::Thread(others[turn % others.len()].thread)
    }

    /// Registers the calling relay thread as one that door connections can be moved to;
    /// returns its inbox (see [`MovedDoor`]).
    pub fn door_inbox(&self) -> mpsc::UnboundedReceiver<MovedDoor> {
        let (tx, rx) = mpsc::unbounded();
        self.doors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(std::thread::current().id(), tx);
        rx
    }

    /// Hands a door connection to relay thread `to`; gives it back if that thread takes no
    /// door connections (or has stopped).
    pub fn move_door(&self, to: ThreadId, door: MovedDoor) -> Result<(), MovedDoor> {
        let doors = self.doors.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = doors.get(&to) else {
            return Err(door);
        };
        match tx.unbounded_send(door) {
            Ok(()) => {
                self.moved_doors.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(e.into_inner()),
        }
    }

    /// How the live tunnels of (`tenant`, `location`) are spread over the relay's threads:
    /// tunnels per thread, most first (one entry per thread that runs any).
    pub fn tunnels_per_thread(&self, tenant: &str, location: &str) -> Vec<usize> {
        let map = self.lock();
        let mut per: HashMap<ThreadId, usize> = HashMap::new();
        for e in map
            .get(&(tenant.to_string(), location.to_string()))
            .into_iter()
            .flatten()
        {
            *per.entry(e.thread).or_default() += 1;
        }
        let mut counts: Vec<usize> = per.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        counts
    }

    /// Runs `tunnel` over `transport` for `identity` until it ends: registers it, executes
    /// open jobs on this thread meanwhile, unregisters it. Returns why the tunnel ended.
    pub async fn serve_tunnel<T: crate::tunnel::Transport>(
        &self,
        identity: &Identity,
        tunnel: Tunnel,
        transport: T,
    ) -> crate::tunnel::TunnelError {
        let (tx, mut rx) = mpsc::unbounded::<Job>();
        let id = NEXT_TUNNEL_ID.fetch_add(1, Ordering::Relaxed);
        let key = (identity.tenant.clone(), identity.location.clone());
        LOCAL_TUNNELS.with(|t| t.borrow_mut().insert(id, tunnel.clone()));
        self.lock().entry(key.clone()).or_default().push(Entry {
            id,
            thread: std::thread::current().id(),
            jobs: tx,
        });
        // Leaves the routing tables however this future ends: normally, dropped, or by a
        // panic in the tunnel's tasks. A dead tunnel left registered would swallow streams.
        let _registered = Registered {
            registry: self,
            key,
            id,
        };
        let jobs = async {
            while let Some(job) = rx.next().await {
                let job = match job {
                    Job::Open(job) => job,
                    Job::Close => {
                        tunnel.go_away();
                        continue;
                    }
                };
                if job.head.protocol.is_some() {
                    // Extended CONNECT needs the connector's SETTINGS, which may still be on
                    // their way on a tunnel that just came up; other jobs need not wait.
                    let tunnel = tunnel.clone();
                    compio::runtime::spawn(async move {
                        tunnel.peer_settings().await;
                        execute(&tunnel, job);
                    })
                    .detach();
                } else {
                    execute(&tunnel, job);
                }
            }
        };
        let run = std::pin::pin!(tunnel.run(transport));
        let jobs = std::pin::pin!(jobs);
        let why = match futures_util::future::select(run, jobs).await {
            futures_util::future::Either::Left((why, _)) => why,
            futures_util::future::Either::Right(((), run)) => run.await,
        };
        why
    }

    /// Closes every tunnel whose tenant and location `keep` no longer admits: they leave the
    /// registry at once (no new stream reaches them) and get GOAWAY, so their running streams
    /// finish within the drain timeout and the connector reconnects — to be refused at
    /// registration. Returns the (tenant, location) pairs closed and how many tunnels each.
    pub fn evict(&self, keep: impl Fn(&str, &str) -> bool) -> Vec<(String, String, usize)> {
        let mut closed = Vec::new();
        let mut map = self.lock();
        map.retain(|(tenant, location), entries| {
            if keep(tenant, location) {
                return true;
            }
            for e in entries.iter() {
                let _ = e.jobs.unbounded_send(Job::Close);
            }
            closed.push((tenant.clone(), location.clone(), entries.len()));
            false
        });
        closed.sort();
        closed
    }

    /// Stops routing to a tunnel (its job loop then ends when the sender is dropped).
    fn remove(&self, key: &(String, String), id: u64) {
        let mut map = self.lock();
        if let Some(list) = map.get_mut(key) {
            list.retain(|e| e.id != id);
            if list.is_empty() {
                map.remove(key);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Vec<Entry>>> {
        self.tunnels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a stream on one of the tunnels of (`tenant`, `location`): on a tunnel of the
    /// calling thread if one is usable, else on another thread's, spreading streams across
    /// tunnels round-robin and skipping tunnels that are going away.
    pub async fn open(
        &self,
        tenant: &str,
        location: &str,
        head: RequestHead,
        end_stream: bool,
    ) -> Result<TunnelStream, RouteError> {
        let candidates: Vec<Entry> = self
            .lock()
            .get(&(tenant.to_string(), location.to_string()))
            .cloned()
            .unwrap_or_default();
        let start = self.round_robin.fetch_add(1, Ordering::Relaxed);
        let here = std::thread::current().id();
        let mut last = None;
        let in_turn = (0..candidates.len()).map(|i| &candidates[(start + i) % candidates.len()]);
        for entry in in_turn.clone().filter(|e| e.thread == here) {
            let Some(tunnel) = LOCAL_TUNNELS.with(|t| t.borrow().get(&entry.id).cloned()) else {
                continue;
            };
            if head.protocol.is_some() {
                // Extended CONNECT needs the connector's SETTINGS (see `serve_tunnel`).
                tunnel.peer_settings().await;
            }
            match tunnel.open(&head, end_stream) {
                Ok(stream) => {
                    self.opened_local.fetch_add(1, Ordering::Relaxed);
                    return Ok(TunnelStream::local(stream));
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        for entry in in_turn.filter(|e| e.thread != here) {
            let (reply, answer) = oneshot::channel();
            let job = OpenJob {
                head: head.clone(),
                end_stream,
                reply,
            };
            if entry.jobs.unbounded_send(Job::Open(job)).is_err() {
                continue;
            }
            match answer.await {
                Ok(Ok((to_tunnel, events))) => {
                    self.opened_remote.fetch_add(1, Ordering::Relaxed);
                    return Ok(TunnelStream::remote(to_tunnel, events));
                }
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => {}
            }
        }
        Err(match last {
            Some(why) => RouteError::Refused(why),
            None => RouteError::NoConnector {
                tenant: tenant.to_string(),
                location: location.to_string(),
            },
        })
    }
}

/// Opens the job's stream on `tunnel` (on the tunnel's thread) and bridges it.
fn execute(tunnel: &Tunnel, job: OpenJob) {
    let OpenJob {
        head,
        end_stream,
        reply,
    } = job;
    match tunnel.open(&head, end_stream) {
        Ok(stream) => {
            let (to_tunnel, from_front) = mpsc::channel(BRIDGE_DEPTH);
            let (to_front, events) = mpsc::channel(BRIDGE_DEPTH);
            if reply.send(Ok((to_tunnel, events))).is_ok() {
                compio::runtime::spawn(bridge(stream, from_front, to_front)).detach();
            }
        }
        Err(e) => {
            let _ = reply.send(Err(e));
        }
    }
}

/// Runs on the tunnel's thread: moves bytes between the front door's channels and the stream.
async fn bridge(
    stream: StreamHandle,
    mut from_front: mpsc::Receiver<Outbound>,
    mut to_front: mpsc::Sender<StreamEvent>,
) {
    let upload = async {
        // After END_STREAM the channel is still watched: the door may give up on the stream
        // later (`StreamSender::abandon`), and that reset must reach the connector.
        loop {
            match from_front.next().await {
                Some(Outbound::Data(data, end)) => {
                    if stream.send_data(data, end).await.is_err() {
                        return;
                    }
                }
                Some(Outbound::Reset(reason)) => return stream.reset(reason),
                // The front-door connection went away: mid-request, or after its END_STREAM
                // with the answer still coming. A stream closed both ways ignores the reset.
                None => return stream.reset(Reason::CANCEL),
            }
        }
    };
    let download = async {
        while let Some(ev) = stream.next().await {
            let (n, done) = match &ev {
                StreamEvent::Data { data, end_stream } => (data.len(), *end_stream),
                StreamEvent::Response { end_stream, .. } => (0, *end_stream),
                _ => (0, true),
            };
            if to_front.send(ev).await.is_err() {
                return stream.reset(Reason::CANCEL);
            }
            // Handed over: the peer may send more (the channel bounds what is in flight).
            stream.release(n);
            if done {
                return;
            }
        }
    };
    futures_util::join!(upload, download);
}

/// A tunnel's place in the routing tables, given up on drop (see [`Registry::serve_tunnel`]).
struct Registered<'a> {
    registry: &'a Registry,
    key: (String, String),
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.registry.remove(&self.key, self.id);
        // `try_`: a drop while unwinding must not panic on a borrow held by the panicking code.
        let _ = LOCAL_TUNNELS.try_with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                t.remove(&self.id);
            }
        });
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
